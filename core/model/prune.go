package model

import (
	"reflect"

	"github.com/openconfig/goyang/pkg/yang"
	"strings"
	"sync"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// pruneConfigFalse clears every state (config false) node of d in place.
// It does what ygot.PruneConfigFalse does, an order of magnitude faster:
// each generated struct type is one schema node (uncompressed
// generation), so which of its fields are config false is worked out once
// per type and cached.
func pruneConfigFalse(d *tandem.Device) {
	prune(reflect.ValueOf(d))
}

func prune(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			prune(v.Elem())
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			prune(v.MapIndex(k))
		}
	case reflect.Struct:
		p := planFor(v.Type())
		for _, i := range p.clear {
			f := v.Field(i)
			f.Set(reflect.Zero(f.Type()))
		}
		for _, i := range p.descend {
			prune(v.Field(i))
		}
	}
}

// statePaths lists the paths of the state nodes present in d, each at the
// highest config false node.
func statePaths(d *tandem.Device) []string {
	var out []string
	walkPlanned(d, func(v reflect.Value, path string, p *prunePlan) {
		for _, i := range p.clear {
			if !v.Field(i).IsZero() {
				out = append(out, path+"/"+v.Type().Field(i).Tag.Get("path"))
			}
		}
	})
	return out
}

// walkPlanned calls visit for every generated struct of d outside state
// nodes, with its path (list keys included) and its type's plan.
func walkPlanned(d *tandem.Device, visit func(v reflect.Value, path string, p *prunePlan)) {
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				e := v.MapIndex(k)
				walk(e, path+keyPredicate(e))
			}
		case reflect.Struct:
			p := planFor(v.Type())
			visit(v, path, p)
			for _, i := range p.descend {
				walk(v.Field(i), path+"/"+v.Type().Field(i).Tag.Get("path"))
			}
		}
	}
	walk(reflect.ValueOf(d), "")
}

// prunePlan lists, for one generated struct type, the fields to clear
// (config false), the fields that may hold config false nodes below, and
// the configuration leaves with their schema.
type prunePlan struct {
	clear, descend []int
	leaves         []leafField
}

// leafField is a leaf or leaf-list field of a generated struct.
type leafField struct {
	index  int
	schema *yang.Entry
}

var plans sync.Map // reflect.Type -> *prunePlan

func planFor(t reflect.Type) *prunePlan {
	if p, ok := plans.Load(t); ok {
		return p.(*prunePlan)
	}
	p := &prunePlan{}
	entry := tandem.SchemaTree[t.Name()]
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("path")
		if !ok || entry == nil {
			continue
		}
		child := entry.Dir[strings.Split(tag, "/")[0]]
		switch {
		case child == nil:
		case child.ReadOnly():
			p.clear = append(p.clear, i)
		case child.IsLeaf() || child.IsLeafList():
			p.leaves = append(p.leaves, leafField{index: i, schema: child})
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct,
			f.Type.Kind() == reflect.Map:
			p.descend = append(p.descend, i)
		}
	}
	plans.Store(t, p)
	return p
}
