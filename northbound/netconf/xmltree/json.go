package xmltree

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
)

// FromJSON converts RFC 7951 JSON (an object of module-qualified
// top-level members) into data nodes.
func (s *Schema) FromJSON(data []byte) ([]*Node, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("RFC 7951 JSON: %w", err)
	}
	var out []*Node
	for _, member := range sortedKeys(top) {
		mod, name, ok := strings.Cut(member, ":")
		if !ok {
			return nil, fmt.Errorf("RFC 7951 JSON: top-level member %q is not module-qualified", member)
		}
		e := s.Top(mod, name)
		if e == nil {
			return nil, fmt.Errorf("RFC 7951 JSON: unknown top-level node %q", member)
		}
		nodes, err := s.fromJSON(e, s.modules[mod], top[member], "/"+name)
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
	return out, nil
}

// InputFromJSON converts an rpc's JSON output (or input) members into
// nodes under the rpc's output (input) schema.
func (s *Schema) InputFromJSON(rpc *yang.Entry, data []byte, output bool) ([]*Node, error) {
	parent := rpc.RPC.Input
	if output {
		parent = rpc.RPC.Output
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("rpc %s: %w", rpc.Name, err)
	}
	m := s.moduleOf(rpc)
	var out []*Node
	for _, member := range sortedKeys(obj) {
		_, name, ok := strings.Cut(member, ":")
		if !ok {
			name = member
		}
		var e *yang.Entry
		if parent != nil {
			e = dataChild(parent, name)
		}
		if e == nil {
			return nil, fmt.Errorf("rpc %s: %q is not in its YANG %s", rpc.Name, member, map[bool]string{true: "output", false: "input"}[output])
		}
		nodes, err := s.fromJSON(e, m, obj[member], "/"+rpc.Name+"/"+name)
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fromJSON converts the JSON value v of schema node e (one member) into
// nodes: one for a container or leaf, one per entry or value for lists
// and leaf-lists.
func (s *Schema) fromJSON(e *yang.Entry, m *Module, v any, path string) ([]*Node, error) {
	switch {
	case e.IsLeafList():
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: a leaf-list is a JSON array, got %T", path, v)
		}
		var out []*Node
		for _, x := range arr {
			val, mod, err := valueFromJSON(e, x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, &Node{Name: e.Name, Module: m.Name, Namespace: m.Namespace, Entry: e, Leaf: true, Value: val, ValueModule: mod})
		}
		return out, nil
	case e.IsLeaf():
		val, mod, err := valueFromJSON(e, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return []*Node{{Name: e.Name, Module: m.Name, Namespace: m.Namespace, Entry: e, Leaf: true, Value: val, ValueModule: mod}}, nil
	case e.IsList():
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: a list is a JSON array, got %T", path, v)
		}
		var out []*Node
		for _, x := range arr {
			n, err := s.objectFromJSON(e, m, x, path)
			if err != nil {
				return nil, err
			}
			for _, k := range Keys(e) {
				if n.Child(n.Namespace, k) == nil {
					return nil, fmt.Errorf("%s: list entry without its key %q", path, k)
				}
			}
			out = append(out, n)
		}
		return out, nil
	}
	n, err := s.objectFromJSON(e, m, v, path)
	if err != nil {
		return nil, err
	}
	return []*Node{n}, nil
}

func (s *Schema) objectFromJSON(e *yang.Entry, m *Module, v any, path string) (*Node, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: a %s is a JSON object, got %T", path, kind(e), v)
	}
	n := &Node{Name: e.Name, Module: m.Name, Namespace: m.Namespace, Entry: e}
	keys := sortedKeys(obj)
	// List keys first, in key order.
	order := append([]string(nil), Keys(e)...)
	for _, k := range keys {
		if !contains(order, k) {
			order = append(order, k)
		}
	}
	for _, member := range order {
		val, ok := obj[member]
		if !ok {
			continue
		}
		mod, name, qualified := strings.Cut(member, ":")
		if !qualified {
			name, mod = member, ""
		}
		ce := dataChild(e, name)
		if ce == nil {
			return nil, fmt.Errorf("%s: unknown member %q", path, member)
		}
		cm := s.moduleOf(ce)
		if mod != "" && mod != cm.Name {
			return nil, fmt.Errorf("%s: member %q: %s belongs to module %s", path, member, name, cm.Name)
		}
		children, err := s.fromJSON(ce, cm, val, path+"/"+name)
		if err != nil {
			return nil, err
		}
		n.Children = append(n.Children, children...)
	}
	return n, nil
}

// ToJSON renders top-level data nodes as indented RFC 7951 JSON.
func ToJSON(nodes []*Node) ([]byte, error) {
	obj, err := membersJSON(nodes, "")
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(obj, "", "  ")
}

// ValueJSON renders the members of an rpc's input or output as a JSON
// object without module qualifiers (as service.Call.Input wants).
func ValueJSON(nodes []*Node, module string) ([]byte, error) {
	obj, err := membersJSON(nodes, module)
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// membersJSON renders sibling nodes as the members of one JSON object,
// qualifying names whose module differs from parentModule.
func membersJSON(nodes []*Node, parentModule string) (map[string]any, error) {
	obj := map[string]any{}
	for _, n := range nodes {
		name := n.Name
		if n.Module != parentModule && n.Module != "" {
			name = n.Module + ":" + n.Name
		}
		switch {
		case n.IsLeafList():
			v, err := jsonValue(n)
			if err != nil {
				return nil, err
			}
			arr, _ := obj[name].([]any)
			obj[name] = append(arr, v)
		case n.Leaf:
			v, err := jsonValue(n)
			if err != nil {
				return nil, err
			}
			obj[name] = v
		case n.IsList():
			child, err := membersJSON(n.Children, n.Module)
			if err != nil {
				return nil, err
			}
			arr, _ := obj[name].([]any)
			obj[name] = append(arr, child)
		default:
			child, err := membersJSON(n.Children, n.Module)
			if err != nil {
				return nil, err
			}
			if prev, ok := obj[name].(map[string]any); ok {
				for k, v := range child {
					prev[k] = v
				}
				continue
			}
			obj[name] = child
		}
	}
	return obj, nil
}
