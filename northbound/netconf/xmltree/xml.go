package xmltree

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
)

// NetconfNS is the NETCONF base namespace, which also qualifies the
// edit-config operation attribute.
const NetconfNS = "urn:ietf:params:xml:ns:netconf:base:1.0"

// DefaultNS qualifies the with-defaults "default" attribute (RFC 6243).
const DefaultNS = "urn:ietf:params:xml:ns:netconf:default:1.0"

// Error is a data element that does not fit the schema. Tag is the
// NETCONF error-tag it calls for.
type Error struct {
	// Tag is unknown-element, unknown-namespace, invalid-value,
	// bad-element, bad-attribute or missing-element.
	Tag string
	// Path is the data path of the offending node, such as
	// /ha/config/mode.
	Path string
	// Element is the offending element or attribute name.
	Element string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Msg) }

// DecodeOptions tune Decode.
type DecodeOptions struct {
	// Ops accepts the edit-config operation attribute on every node.
	Ops bool
	// ConfigOnly refuses state (config false) nodes.
	ConfigOnly bool
}

// Operations are the values of the edit-config operation attribute.
var Operations = []string{"merge", "replace", "create", "delete", "remove", "none"}

// Decode converts the children of a <config> (or <data>) element into
// data nodes.
func (s *Schema) Decode(els []*Element, opts DecodeOptions) ([]*Node, error) {
	var out []*Node
	for _, el := range els {
		m := s.byNS[el.Name.Space]
		if m == nil {
			return nil, &Error{Tag: "unknown-namespace", Path: "/" + el.Name.Local, Element: el.Name.Local,
				Msg: fmt.Sprintf("namespace %q is not one of tandem's YANG modules", el.Name.Space)}
		}
		e := s.Top(m.Name, el.Name.Local)
		if e == nil {
			return nil, &Error{Tag: "unknown-element", Path: "/" + el.Name.Local, Element: el.Name.Local,
				Msg: fmt.Sprintf("module %s has no top-level data node %q", m.Name, el.Name.Local)}
		}
		n, err := s.decode(el, e, m, "", opts)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// DecodeInput converts the children of an rpc element into the nodes of
// the rpc's input (or output, with output set).
func (s *Schema) DecodeInput(rpc *yang.Entry, els []*Element, output bool) ([]*Node, error) {
	parent := rpc.RPC.Input
	if output {
		parent = rpc.RPC.Output
	}
	m := s.moduleOf(rpc)
	var out []*Node
	for _, el := range els {
		var e *yang.Entry
		if parent != nil {
			e = dataChild(parent, el.Name.Local)
		}
		if e == nil || el.Name.Space != m.Namespace {
			return nil, &Error{Tag: "unknown-element", Path: "/" + rpc.Name + "/" + el.Name.Local, Element: el.Name.Local,
				Msg: fmt.Sprintf("rpc %s has no parameter %q in namespace %s", rpc.Name, el.Name.Local, m.Namespace)}
		}
		n, err := s.decode(el, e, m, "/"+rpc.Name, DecodeOptions{})
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// dataChild finds the data child name of e, looking through choices and
// cases.
func dataChild(e *yang.Entry, name string) *yang.Entry {
	if c, ok := e.Dir[name]; ok && !c.IsChoice() && !c.IsCase() {
		return c
	}
	for _, c := range e.Dir {
		if c.IsChoice() || c.IsCase() {
			if f := dataChild(c, name); f != nil {
				return f
			}
		}
	}
	return nil
}

func (s *Schema) decode(el *Element, e *yang.Entry, m *Module, parentPath string, opts DecodeOptions) (*Node, error) {
	path := parentPath + "/" + el.Name.Local
	if opts.ConfigOnly && e.ReadOnly() {
		return nil, &Error{Tag: "invalid-value", Path: path, Element: el.Name.Local,
			Msg: "is state (config false) and cannot be configured"}
	}
	n := &Node{Name: e.Name, Module: m.Name, Namespace: m.Namespace, Entry: e}
	for _, a := range el.Attrs {
		switch {
		case a.Name.Space == NetconfNS && a.Name.Local == "operation" && opts.Ops:
			if !contains(Operations, a.Value) {
				return nil, &Error{Tag: "bad-attribute", Path: path, Element: "operation",
					Msg: fmt.Sprintf("operation %q is not one of %s", a.Value, strings.Join(Operations, ", "))}
			}
			n.Op = a.Value
		case a.Name.Space == DefaultNS && a.Name.Local == "default":
			n.Default = a.Value == "true" || a.Value == "1"
		default:
			return nil, &Error{Tag: "unknown-attribute", Path: path, Element: a.Name.Local,
				Msg: fmt.Sprintf("attribute %s is not allowed here", a.Name.Local)}
		}
	}
	if e.IsLeaf() || e.IsLeafList() {
		if len(el.Children) > 0 {
			return nil, &Error{Tag: "bad-element", Path: path, Element: el.Name.Local, Msg: "a leaf has no child elements"}
		}
		n.Leaf = true
		if n.Op == "delete" || n.Op == "remove" {
			if strings.TrimSpace(el.Text) == "" && !e.IsLeafList() {
				return n, nil // deleting a leaf needs no value
			}
		}
		res := func(prefix string) (string, bool) {
			ns, ok := el.Scope[prefix]
			if !ok {
				return "", false
			}
			if mod := s.byNS[ns]; mod != nil {
				return mod.Name, true
			}
			return "", false
		}
		canon, _, mod, err := checkValue(leafType(e), el.Text, res)
		if err != nil {
			return nil, &Error{Tag: "invalid-value", Path: path, Element: el.Name.Local, Msg: err.Error()}
		}
		n.Value, n.ValueModule = canon, mod
		return n, nil
	}
	if strings.TrimSpace(el.Text) != "" {
		return nil, &Error{Tag: "bad-element", Path: path, Element: el.Name.Local,
			Msg: fmt.Sprintf("%s is a %s and holds elements, not text %q", el.Name.Local, kind(e), strings.TrimSpace(el.Text))}
	}
	for _, c := range el.Children {
		ce := dataChild(e, c.Name.Local)
		if ce == nil {
			return nil, &Error{Tag: "unknown-element", Path: path + "/" + c.Name.Local, Element: c.Name.Local,
				Msg: fmt.Sprintf("%s has no child %q in the YANG schema", path, c.Name.Local)}
		}
		cm := s.moduleOf(ce)
		if c.Name.Space != cm.Namespace {
			return nil, &Error{Tag: "unknown-namespace", Path: path + "/" + c.Name.Local, Element: c.Name.Local,
				Msg: fmt.Sprintf("%s belongs to namespace %s, not %q", c.Name.Local, cm.Namespace, c.Name.Space)}
		}
		cn, err := s.decode(c, ce, cm, path, opts)
		if err != nil {
			return nil, err
		}
		if isKey(ce) && n.Child(cn.Namespace, cn.Name) != nil {
			return nil, &Error{Tag: "bad-element", Path: path + "/" + c.Name.Local, Element: c.Name.Local, Msg: "list key given twice"}
		}
		n.Children = append(n.Children, cn)
	}
	if e.IsList() {
		for _, k := range Keys(e) {
			if n.Child(n.Namespace, k) == nil {
				return nil, &Error{Tag: "missing-element", Path: path, Element: k,
					Msg: fmt.Sprintf("list entry without its key %q", k)}
			}
		}
	}
	return n, nil
}

func kind(e *yang.Entry) string {
	if e.IsList() {
		return "list"
	}
	return "container"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// WriteNodes renders data nodes as XML: each node in its module's
// namespace, list keys first, identity values with their module's prefix,
// and the with-defaults attribute on tagged default leaves.
func (s *Schema) WriteNodes(w *Writer, nodes []*Node) {
	for _, n := range nodes {
		s.writeNode(w, n)
	}
}

func (s *Schema) writeNode(w *Writer, n *Node) {
	var attrs []xml.Attr
	if n.Default {
		attrs = append(attrs, xml.Attr{Name: xml.Name{Space: DefaultNS, Local: "default"}, Value: "true"})
	}
	if n.Leaf {
		value, decls := n.Value, map[string]string(nil)
		if n.ValueModule != "" {
			if m := s.module(n.ValueModule); m != nil {
				value = m.Prefix + ":" + n.Value
				decls = map[string]string{m.Prefix: m.Namespace}
			} else if p := knownPrefixes[n.ValueModule]; p != "" {
				value = p + ":" + n.Value
				decls = map[string]string{p: n.ValueModule}
			}
		}
		w.StartDecl(n.Namespace, n.Name, decls, attrs...)
		w.Text(value)
		w.End()
		return
	}
	w.Start(n.Namespace, n.Name, attrs...)
	keys := Keys(n.Entry)
	for _, k := range keys {
		if c := n.Child(n.Namespace, k); c != nil {
			s.writeNode(w, c)
		}
	}
	for _, c := range n.Children {
		if len(keys) > 0 && c.Namespace == n.Namespace && contains(keys, c.Name) {
			continue
		}
		s.writeNode(w, c)
	}
	w.End()
}
