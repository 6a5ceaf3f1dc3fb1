package model

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// Every leafref of the tandem YANG is the OpenConfig mirror of a list key
// (interface[name] -> config/name). Normalize fills the mirror in where it
// is missing and keyMismatches reports entries whose mirror disagrees with
// the key, which is all that those leafrefs constrain; the generic ygot
// leafref pass, a third of a commit's time, is skipped (see Validate).

// Normalize fills in, for every list entry, the OpenConfig mirror of its
// key under config (interface[name=X1] gets config/name X1), so that a
// user may give the key once, in the path or in the entry.
func Normalize(d *tandem.Device) {
	walkEntries(reflect.ValueOf(d), "", func(_ string, key, mirror reflect.Value) {
		if isUnset(mirror) {
			mirror.Set(key)
		}
	})
}

// keyMismatches lists the list entries whose config mirror of the key
// differs from the key.
func keyMismatches(d *tandem.Device) []error {
	var errs []error
	walkEntries(reflect.ValueOf(d), "", func(path string, key, mirror reflect.Value) {
		if !isUnset(mirror) && !reflect.DeepEqual(mirror.Interface(), key.Interface()) {
			errs = append(errs, fmt.Errorf("%s: config leaf %v differs from the list key %v; make them equal",
				path, leafString(mirror), leafString(key)))
		}
	})
	return errs
}

// walkEntries calls fn for every key leaf of every list entry under v with
// the entry's path and the matching leaf of the entry's config container
// (allocating the container if needed).
func walkEntries(v reflect.Value, path string, fn func(path string, key, mirror reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkEntries(v.Elem(), path, fn)
		}
	case reflect.Struct:
		t := v.Type()
		mirrorKeys(v, path, fn)
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			elem := t.Field(i).Tag.Get("path")
			switch f.Kind() {
			case reflect.Pointer:
				walkEntries(f, path+"/"+elem, fn)
			case reflect.Map:
				for _, k := range f.MapKeys() {
					e := f.MapIndex(k)
					walkEntries(e, path+"/"+elem+keyPredicate(e), fn)
				}
			}
		}
	}
}

// keyPredicate renders a list entry's keys as [name=value]...
func keyPredicate(entry reflect.Value) string {
	v := entry.Elem()
	t := v.Type()
	var b strings.Builder
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name != "Config" && f.Name != "State" && isLeaf(v.Field(i)) && !isUnset(v.Field(i)) {
			fmt.Fprintf(&b, "[%s=%s]", f.Tag.Get("path"), leafString(v.Field(i)))
		}
	}
	return b.String()
}

// mirrorKeys hands fn the key leaves of a list entry (its leaves outside
// config and state) paired with the same leaf under config.
func mirrorKeys(entry reflect.Value, path string, fn func(path string, key, mirror reflect.Value)) {
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
		if mirror := cfg.Elem().FieldByName(f.Name); mirror.IsValid() && mirror.Type() == key.Type() {
			fn(path, key, mirror)
		}
	}
}

func isLeaf(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		return v.Type().Elem().Kind() != reflect.Struct
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

// leafString renders a leaf or map key for a path or a message.
func leafString(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(v.Interface())
}
