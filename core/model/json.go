package model

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// Decode parses configuration encoded as RFC 7951 JSON (module-qualified
// top-level members, such as {"tandem-ha:ha": {...}}). Unknown members and
// state (config false) nodes are refused with the path that was wrong.
// Decode does not validate: see Validate.
func Decode(data []byte) (*tandem.Device, error) {
	d := &tandem.Device{}
	if len(bytes.TrimSpace(data)) == 0 {
		return d, nil
	}
	if err := tandem.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("decode configuration: %w", err)
	}
	Normalize(d)
	if paths := StatePaths(d); len(paths) > 0 {
		return nil, fmt.Errorf("decode configuration: %s is state (config false) and cannot be configured; remove it", strings.Join(paths, ", "))
	}
	return d, nil
}

// StatePaths lists the paths of state (config false) nodes present in d,
// sorted.
func StatePaths(d *tandem.Device) []string {
	out := statePaths(d)
	sort.Strings(out)
	return out
}

// Encode renders the configuration of d as indented RFC 7951 JSON with
// module-qualified names. State nodes are left out; secrets are kept (this
// is the encoding the datastore persists).
func Encode(d *tandem.Device) ([]byte, error) {
	c, err := Clone(d)
	if err != nil {
		return nil, err
	}
	pruneConfigFalse(c)
	return encode(c)
}

// Canonical returns the canonical form of d's configuration (a normalized
// copy without state nodes and empty branches, the same value decoding
// its encoding gives) and its encoding, as Encode renders it.
func Canonical(d *tandem.Device) (*tandem.Device, []byte, error) {
	c, err := Clone(d)
	if err != nil {
		return nil, nil, err
	}
	Normalize(c)
	pruneConfigFalse(c)
	enc, err := encode(c)
	if err != nil {
		return nil, nil, err
	}
	return c, enc, nil
}

// EncodeRedacted renders d like Encode but without write-only leaves: the
// encoding every read API returns.
func EncodeRedacted(d *tandem.Device) ([]byte, error) {
	c, err := Clone(d)
	if err != nil {
		return nil, err
	}
	pruneConfigFalse(c)
	Redact(c)
	return encode(c)
}

// EncodeAll renders d with its state nodes, secrets removed.
func EncodeAll(d *tandem.Device) ([]byte, error) {
	c, err := Clone(d)
	if err != nil {
		return nil, err
	}
	Redact(c)
	return encode(c)
}

func encode(d *tandem.Device) ([]byte, error) {
	ygot.PruneEmptyBranches(d)
	s, err := ygot.EmitJSON(d, &ygot.EmitJSONConfig{
		Format:         ygot.RFC7951,
		Indent:         "  ",
		RFC7951Config:  &ygot.RFC7951JSONConfig{AppendModuleName: true},
		SkipValidation: true,
	})
	if err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	return []byte(s), nil
}

// Redact removes every write-only leaf (secrets) from d in place, in
// every entry of every list on the way to it.
func Redact(d *tandem.Device) {
	for _, p := range WriteOnlyPaths() {
		clearPath(reflect.ValueOf(d), strings.Split(strings.TrimPrefix(p, "/"), "/"))
	}
}

// clearPath zeroes the field at the schema path elems below v (a pointer
// to a generated struct), descending into every entry of the lists it
// crosses.
func clearPath(v reflect.Value, elems []string) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || len(elems) == 0 {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if !slices.Contains(strings.Split(t.Field(i).Tag.Get("path"), "|"), elems[0]) {
			continue
		}
		f := v.Field(i)
		switch {
		case len(elems) == 1:
			f.Set(reflect.Zero(f.Type()))
		case f.Kind() == reflect.Map:
			for _, k := range f.MapKeys() {
				clearPath(f.MapIndex(k), elems[1:])
			}
		default:
			clearPath(f, elems[1:])
		}
	}
}

// Clone returns a deep copy of d.
func Clone(d *tandem.Device) (*tandem.Device, error) {
	if d == nil {
		return &tandem.Device{}, nil
	}
	c, err := ygot.DeepCopy(d)
	if err != nil {
		return nil, fmt.Errorf("copy configuration: %w", err)
	}
	return c.(*tandem.Device), nil
}

// Equal reports whether a and b hold the same configuration.
func Equal(a, b *tandem.Device) bool {
	ea, errA := Encode(a)
	eb, errB := Encode(b)
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

// Validate checks d against the YANG schema (types, ranges, patterns,
// keys, and the list-key mirrors that are the model's only leafrefs) and
// returns every violation.
//
// Errors about leaves are *PathError with the leaf's keyed path; ygot's own
// pass contributes only what is not about a single leaf (list keys,
// element counts).
func Validate(d *tandem.Device) []error {
	errs := append(keyMismatches(d), leafErrors(d)...)
	err := d.ΛValidate(&ytypes.LeafrefOptions{IgnoreMissingData: true})
	if err == nil {
		return errs
	}
	structural := []error{err}
	var list util.Errors
	if errors.As(err, &list) {
		structural = list
	}
	for _, e := range structural {
		if !isLeafError(e) {
			errs = append(errs, e)
		}
	}
	return errs
}
