package model

import (
	"reflect"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// Normalize fills in, for every list entry, the OpenConfig mirror of its
// key under config (interface[name=X1] gets config/name X1), so that a
// user may give the key once, in the path or in the entry.
func Normalize(d *tandem.Device) {
	normalize(reflect.ValueOf(d))
}

func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			normalize(v.MapIndex(k))
		}
	case reflect.Struct:
		mirrorKeys(v)
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Kind() == reflect.Pointer || f.Kind() == reflect.Map {
				normalize(f)
			}
		}
	}
}

// mirrorKeys copies leaves of a list entry (its keys) into the entry's
// config container where the same leaf is unset there.
func mirrorKeys(entry reflect.Value) {
	cfg := entry.FieldByName("Config")
	if !cfg.IsValid() || cfg.Kind() != reflect.Pointer || cfg.Type().Elem().Kind() != reflect.Struct {
		return
	}
	t := entry.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := entry.Field(i)
		if f.Name == "Config" || f.Name == "State" || !isLeaf(key) || isUnset(key) {
			continue
		}
		if cfg.IsNil() {
			cfg.Set(reflect.New(cfg.Type().Elem()))
		}
		target := cfg.Elem().FieldByName(f.Name)
		if target.IsValid() && target.Type() == key.Type() && isUnset(target) {
			target.Set(key)
		}
	}
}

func isLeaf(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		k := v.Type().Elem().Kind()
		return k != reflect.Struct
	case reflect.Int64: // generated enumerations
		return true
	}
	return false
}

func isUnset(v reflect.Value) bool {
	if v.Kind() == reflect.Pointer {
		return v.IsNil()
	}
	return v.IsZero()
}
