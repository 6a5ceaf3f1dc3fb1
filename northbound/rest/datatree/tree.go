// Package datatree edits and queries RFC 7951 JSON documents by their
// YANG schema: find, create, replace, merge and remove the node a
// RESTCONF path names, and the query parameters depth, fields and
// with-defaults. Documents are what encoding/json decodes with UseNumber:
// map[string]any, []any, json.Number, string, bool and nil. The top-level
// members of a document are module-qualified ("tandem-ha:ha"); below, a
// member is qualified only when its module differs from its parent's,
// which in tandem's model (no augments) never happens, but qualified names
// are accepted wherever a member is looked up.
package datatree

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"github.com/tandem-ha/tandem/northbound/rest/rcpath"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
)

// Doc is a decoded document: the datastore root.
type Doc = map[string]any

// Error is a problem with the data of a request, named by path.
type Error struct {
	// Path is the instance-identifier of the node concerned.
	Path string
	// Tag is the RESTCONF error-tag: invalid-value, data-exists,
	// data-missing, malformed-message, unknown-element.
	Tag string
	Msg string
}

func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// Decode parses JSON keeping numbers exact. Trailing data is an error.
func Decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// DecodeDoc parses a document whose top level is an object.
func DecodeDoc(b []byte) (Doc, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return Doc{}, nil
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document is not a JSON object")
	}
	return d, nil
}

// member returns the value of obj's member for node name, given simple
// or module-qualified, and the member name found.
func member(obj map[string]any, module, name string, top bool) (any, string, bool) {
	if top {
		k := module + ":" + name
		v, ok := obj[k]
		return v, k, ok
	}
	if v, ok := obj[name]; ok {
		return v, name, true
	}
	k := module + ":" + name
	v, ok := obj[k]
	return v, k, ok
}

// MemberName is how a node's member is named in a body or response: the
// top-level form, module-qualified.
func MemberName(s rcpath.Step) string { return s.Module + ":" + s.Name() }

// childEntry resolves a member name of an object of entry e.
func childEntry(e *yang.Entry, name string) *yang.Entry {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	if e == nil {
		return nil
	}
	return e.Dir[name]
}

// RootEntry resolves a top-level member name ("tandem-ha:ha").
func RootEntry(s *schema.Schema, name string) *yang.Entry {
	mod, local, ok := strings.Cut(name, ":")
	if !ok || s.TopModule[local] != mod {
		return nil
	}
	return s.Top[local]
}

// scalarString renders a key or leaf-list value for comparison.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// matches reports whether list entry obj has the key values keys.
func matches(e *yang.Entry, obj any, keys []string) bool {
	m, ok := obj.(map[string]any)
	if !ok {
		return false
	}
	for i, k := range schema.Keys(e) {
		v, ok := m[k]
		if !ok {
			return false
		}
		s, ok := scalarString(v)
		if !ok || s != keys[i] {
			return false
		}
	}
	return true
}

// indexOf finds the entry with keys in a list or leaf-list array.
func indexOf(e *yang.Entry, arr []any, keys []string) int {
	for i, x := range arr {
		if e.IsLeafList() {
			if s, ok := scalarString(x); ok && s == keys[0] {
				return i
			}
			continue
		}
		if matches(e, x, keys) {
			return i
		}
	}
	return -1
}

// Find returns the value of the node t names: the object of a container
// or list entry, the array of a list or leaf-list, a leaf's value, or for
// a leaf-list entry its value. The root is doc itself.
func Find(doc Doc, t rcpath.Target) (any, bool) {
	var cur any = doc
	for i, s := range t.Steps {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, _, ok := member(obj, s.Module, s.Name(), i == 0)
		if !ok {
			return nil, false
		}
		if s.Keys != nil {
			arr, ok := v.([]any)
			if !ok {
				return nil, false
			}
			j := indexOf(s.Entry, arr, s.Keys)
			if j < 0 {
				return nil, false
			}
			v = arr[j]
		}
		cur = v
	}
	return cur, true
}

// Wrap renders the response body for the node t names holding v:
// {"module:name": v}, with a list or leaf-list entry inside an array.
// The root is returned as is.
func Wrap(t rcpath.Target, v any) any {
	if t.Root() {
		return v
	}
	if t.IsEntry() {
		v = []any{v}
	}
	return map[string]any{MemberName(t.Last()): v}
}

// Unwrap takes the value for the node t names out of a request body,
// which must hold exactly one member naming that node (module-qualified or
// not). A list entry's value may be an array of one object or the object;
// its key leaves must agree with the path (they are filled in when
// missing). The root takes the body as is.
func Unwrap(t rcpath.Target, body any) (any, error) {
	if t.Root() {
		if _, ok := body.(map[string]any); !ok {
			return nil, &Error{Path: "/", Tag: "malformed-message", Msg: "the body must be a JSON object of top-level nodes"}
		}
		return body, nil
	}
	s := t.Last()
	obj, ok := body.(map[string]any)
	if !ok || len(obj) != 1 {
		return nil, &Error{Path: t.InstanceID(), Tag: "malformed-message", Msg: fmt.Sprintf("the body must be one JSON object with the single member %q", MemberName(s))}
	}
	v, _, ok := member(obj, s.Module, s.Name(), false)
	if !ok {
		for k := range obj {
			return nil, &Error{Path: t.InstanceID(), Tag: "invalid-value", Msg: fmt.Sprintf("the body's member %q does not name the target node %q", k, MemberName(s))}
		}
	}
	if !t.IsEntry() {
		return v, nil
	}
	if arr, ok := v.([]any); ok {
		if len(arr) != 1 {
			return nil, &Error{Path: t.InstanceID(), Tag: "invalid-value", Msg: fmt.Sprintf("the body holds %d entries of %s; the path names one", len(arr), s.Name())}
		}
		v = arr[0]
	}
	if s.Entry.IsLeafList() {
		if str, ok := scalarString(v); !ok || str != s.Keys[0] {
			return nil, &Error{Path: t.InstanceID(), Tag: "invalid-value", Msg: fmt.Sprintf("the body's value %v differs from the path's %q", v, s.Keys[0])}
		}
		return v, nil
	}
	entry, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Path: t.InstanceID(), Tag: "malformed-message", Msg: fmt.Sprintf("an entry of list %s must be a JSON object", s.Name())}
	}
	return entry, checkKeys(t, entry)
}

// checkKeys makes entry's key leaves agree with the path's keys.
func checkKeys(t rcpath.Target, entry map[string]any) error {
	s := t.Last()
	for i, k := range schema.Keys(s.Entry) {
		v, ok := entry[k]
		if !ok {
			entry[k] = keyValue(s.Entry.Dir[k], s.Keys[i])
			continue
		}
		if str, _ := scalarString(v); str != s.Keys[i] {
			return &Error{Path: t.InstanceID() + "/" + k, Tag: "invalid-value", Msg: fmt.Sprintf("key leaf %s is %v in the body but %q in the path; they must agree", k, v, s.Keys[i])}
		}
	}
	return nil
}

// keyValue renders a key from the URL in its RFC 7951 JSON type.
func keyValue(e *yang.Entry, s string) any {
	if e == nil || e.Type == nil {
		return s
	}
	switch e.Type.Kind {
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yuint8, yang.Yuint16, yang.Yuint32:
		return json.Number(s)
	case yang.Ybool:
		return s == "true"
	}
	return s
}

// container returns the object at the end of steps, creating missing
// containers and list entries (with their keys) when create is set.
func container(doc Doc, steps []rcpath.Step, create bool) (map[string]any, error) {
	cur := doc
	for i, s := range steps {
		v, name, ok := member(cur, s.Module, s.Name(), i == 0)
		if !ok {
			if !create {
				return nil, nil
			}
			name = s.Name()
			if i == 0 {
				name = MemberName(s)
			}
			if s.Keys != nil {
				v = []any{}
			} else {
				v = map[string]any{}
			}
			cur[name] = v
		}
		if s.Keys == nil {
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, &Error{Path: rcpath.Target{Steps: steps[:i+1]}.InstanceID(), Tag: "invalid-value", Msg: "not a JSON object"}
			}
			cur = obj
			continue
		}
		arr, _ := v.([]any)
		j := indexOf(s.Entry, arr, s.Keys)
		if j < 0 {
			if !create {
				return nil, nil
			}
			entry := map[string]any{}
			for k, key := range schema.Keys(s.Entry) {
				entry[key] = keyValue(s.Entry.Dir[key], s.Keys[k])
			}
			arr = append(arr, entry)
			cur[name] = arr
			j = len(arr) - 1
		}
		obj, ok := arr[j].(map[string]any)
		if !ok {
			return nil, &Error{Path: rcpath.Target{Steps: steps[:i+1]}.InstanceID(), Tag: "invalid-value", Msg: "list entry is not a JSON object"}
		}
		cur = obj
	}
	return cur, nil
}

// Exists reports whether the node t names is present.
func Exists(doc Doc, t rcpath.Target) bool {
	_, ok := Find(doc, t)
	return ok
}

// Replace sets the node t names to v (as Unwrap returned it), creating
// missing parents; what was there is replaced whole. At the root, v
// replaces the whole document.
func Replace(doc Doc, t rcpath.Target, v any) error {
	if t.Root() {
		clear(doc)
		for k, x := range v.(map[string]any) {
			doc[k] = x
		}
		return nil
	}
	parent, err := container(doc, t.Steps[:len(t.Steps)-1], true)
	if err != nil {
		return err
	}
	s := t.Last()
	_, name, ok := member(parent, s.Module, s.Name(), len(t.Steps) == 1)
	if !ok {
		name = s.Name()
		if len(t.Steps) == 1 {
			name = MemberName(s)
		}
	}
	if s.Keys == nil {
		parent[name] = v
		return nil
	}
	arr, _ := parent[name].([]any)
	if j := indexOf(s.Entry, arr, s.Keys); j >= 0 {
		arr[j] = v
	} else {
		arr = append(arr, v)
	}
	parent[name] = arr
	return nil
}

// Merge merges v into the node t names: containers and list entries
// member by member, list entries matched by key, leaf-lists as a union,
// leaves replaced. Missing parents are created.
func Merge(s *schema.Schema, doc Doc, t rcpath.Target, v any) error {
	if t.Root() {
		MergeRoot(s, doc, v.(map[string]any))
		return nil
	}
	old, ok := Find(doc, t)
	if !ok {
		return Replace(doc, t, v)
	}
	return Replace(doc, t, mergeValue(t.Entry(), old, v, t.IsEntry()))
}

// MergeRoot merges the top-level members of src into doc (also how
// content=all joins configuration and state).
func MergeRoot(s *schema.Schema, doc, src Doc) {
	for k, x := range src {
		doc[k] = mergeValue(RootEntry(s, k), doc[k], x, false)
	}
}

// mergeValue merges src into dst for schema node e; entry is set when
// dst and src are one list entry each.
func mergeValue(e *yang.Entry, dst, src any, entry bool) any {
	if dst == nil {
		return src
	}
	switch {
	case e != nil && e.IsList() && !entry:
		da, ok1 := dst.([]any)
		sa, ok2 := src.([]any)
		if !ok1 || !ok2 {
			return src
		}
		keys := schema.Keys(e)
		for _, x := range sa {
			kv := entryKeys(keys, x)
			if j := indexOf(e, da, kv); kv != nil && j >= 0 {
				da[j] = mergeValue(e, da[j], x, true)
			} else {
				da = append(da, x)
			}
		}
		return da
	case e != nil && e.IsLeafList():
		da, ok1 := dst.([]any)
		sa, ok2 := src.([]any)
		if !ok1 || !ok2 {
			return src
		}
		for _, x := range sa {
			s, _ := scalarString(x)
			if indexOf(e, da, []string{s}) < 0 {
				da = append(da, x)
			}
		}
		return da
	}
	do, ok1 := dst.(map[string]any)
	so, ok2 := src.(map[string]any)
	if !ok1 || !ok2 {
		return src
	}
	for k, x := range so {
		var ce *yang.Entry
		if e != nil {
			ce = childEntry(e, k)
		}
		if _, simple, ok := strings.Cut(k, ":"); ok && e != nil {
			k = simple
		}
		do[k] = mergeValue(ce, do[k], x, false)
	}
	return do
}

// entryKeys extracts a list entry's key values; nil when one is missing.
func entryKeys(keys []string, x any) []string {
	m, ok := x.(map[string]any)
	if !ok {
		return nil
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		s, ok := scalarString(m[k])
		if !ok {
			return nil
		}
		out[i] = s
	}
	return out
}

// Remove deletes the node t names and reports whether it was there.
// Emptied parents are left in place (they hold no data).
func Remove(doc Doc, t rcpath.Target) bool {
	if t.Root() {
		had := len(doc) > 0
		clear(doc)
		return had
	}
	parent, _ := container(doc, t.Steps[:len(t.Steps)-1], false)
	if parent == nil {
		return false
	}
	s := t.Last()
	v, name, ok := member(parent, s.Module, s.Name(), len(t.Steps) == 1)
	if !ok {
		return false
	}
	if s.Keys == nil {
		delete(parent, name)
		return true
	}
	arr, _ := v.([]any)
	j := indexOf(s.Entry, arr, s.Keys)
	if j < 0 {
		return false
	}
	parent[name] = append(arr[:j:j], arr[j+1:]...)
	return true
}

// MoveFirst moves the list entry t names to the front of its list (YANG
// patch insert where=first on a user-ordered list).
func MoveFirst(doc Doc, t rcpath.Target) {
	parent, _ := container(doc, t.Steps[:len(t.Steps)-1], false)
	if parent == nil || !t.IsEntry() {
		return
	}
	s := t.Last()
	v, name, ok := member(parent, s.Module, s.Name(), len(t.Steps) == 1)
	if !ok {
		return
	}
	arr, _ := v.([]any)
	j := indexOf(s.Entry, arr, s.Keys)
	if j <= 0 {
		return
	}
	x := arr[j]
	copy(arr[1:j+1], arr[:j])
	arr[0] = x
	parent[name] = arr
}

// Present reports whether the node t names exists in the YANG sense:
// like Exists, except that a non-presence container exists whenever its
// parent does (it holds no data of its own), so an empty one is present.
func Present(doc Doc, t rcpath.Target) bool {
	var cur any = doc
	for i, s := range t.Steps {
		obj, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		v, _, ok := member(obj, s.Module, s.Name(), i == 0)
		if !ok {
			if s.Keys == nil && s.Entry.IsContainer() && !isPresence(s.Entry) {
				cur = map[string]any{}
				continue
			}
			return false
		}
		if s.Keys != nil {
			arr, _ := v.([]any)
			j := indexOf(s.Entry, arr, s.Keys)
			if j < 0 {
				return false
			}
			v = arr[j]
		}
		cur = v
	}
	return true
}
