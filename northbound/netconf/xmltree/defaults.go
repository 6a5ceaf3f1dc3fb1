package xmltree

import (
	"github.com/openconfig/goyang/pkg/yang"
)

// Defaults handling of RFC 6243 (with-defaults). tandem's datastore keeps
// what was set, so its basic mode is explicit; Trim and AddDefaults give
// the trim, report-all and report-all-tagged views.

// defaultValue returns the canonical default of leaf e and whether it has
// one. Identity defaults are "prefix:name" in YANG: the module is
// resolved through e's module.
func defaultValue(e *yang.Entry) (string, string, bool) {
	v, ok := e.SingleDefaultValue()
	if !ok {
		return "", "", false
	}
	t := leafType(e)
	res := func(prefix string) (string, bool) {
		if prefix == "" {
			return "", true
		}
		if m := yang.FindModuleByPrefix(e.Node, prefix); m != nil {
			return m.Name, true
		}
		return prefix, true
	}
	canon, _, mod, err := checkValue(t, v, res)
	if err != nil {
		return "", "", false
	}
	return canon, mod, true
}

// isDefault reports whether leaf n holds its YANG default.
func isDefault(n *Node) bool {
	if n.Entry == nil || !n.Entry.IsLeaf() {
		return false
	}
	v, mod, ok := defaultValue(n.Entry)
	return ok && v == n.Value && mod == n.ValueModule
}

// Trim removes every leaf that holds its YANG default (with-defaults
// trim), in place, and returns nodes.
func Trim(nodes []*Node) []*Node {
	out := nodes[:0]
	for _, n := range nodes {
		if n.Leaf && isDefault(n) {
			continue
		}
		n.Children = Trim(n.Children)
		out = append(out, n)
	}
	return out
}

// AddDefaults adds the leaves that are not set but have a YANG default,
// under every container and list entry present and every non-presence
// container (with-defaults report-all), in place. With tag, added leaves
// and leaves set to their default are marked Default
// (report-all-tagged). configOnly leaves state nodes out.
func (s *Schema) AddDefaults(nodes []*Node, configOnly, tag bool) []*Node {
	root := &Node{Children: nodes}
	for _, m := range s.Modules() {
		for _, name := range ChildNames(m.Entry) {
			e := s.Top(m.Name, name)
			if e == nil || (configOnly && e.ReadOnly()) {
				continue
			}
			s.fillChild(root, e, m, configOnly, tag)
		}
	}
	return root.Children
}

// fillChild fills the instances of schema child e under parent.
func (s *Schema) fillChild(parent *Node, e *yang.Entry, m *Module, configOnly, tag bool) {
	switch {
	case e.IsLeaf():
		if c := parent.Child(m.Namespace, e.Name); c != nil {
			if tag && isDefault(c) {
				c.Default = true
			}
			return
		}
		if v, mod, ok := defaultValue(e); ok {
			parent.Add(&Node{Name: e.Name, Module: m.Name, Namespace: m.Namespace, Entry: e, Leaf: true, Value: v, ValueModule: mod, Default: tag})
		}
	case e.IsLeafList():
		if parent.Child(m.Namespace, e.Name) != nil {
			return
		}
		for _, v := range e.DefaultValues() {
			canon, _, mod, err := checkValue(leafType(e), v, nil)
			if err == nil {
				parent.Add(&Node{Name: e.Name, Module: m.Name, Namespace: m.Namespace, Entry: e, Leaf: true, Value: canon, ValueModule: mod, Default: tag})
			}
		}
	case e.IsList():
		for _, c := range parent.Children {
			if c.Entry == e {
				s.fill(c, configOnly, tag)
			}
		}
	case e.IsContainer():
		c := parent.Child(m.Namespace, e.Name)
		if c != nil {
			s.fill(c, configOnly, tag)
			return
		}
		if isPresence(e) {
			return
		}
		c = &Node{Name: e.Name, Module: m.Name, Namespace: m.Namespace, Entry: e}
		s.fill(c, configOnly, tag)
		if len(c.Children) > 0 {
			parent.Add(c)
		}
	}
}

func (s *Schema) fill(n *Node, configOnly, tag bool) {
	for _, name := range ChildNames(n.Entry) {
		e := dataChild(n.Entry, name)
		if e == nil || (configOnly && e.ReadOnly()) {
			continue
		}
		s.fillChild(n, e, s.moduleOf(e), configOnly, tag)
	}
}

func isPresence(e *yang.Entry) bool {
	if c, ok := e.Node.(*yang.Container); ok {
		return c.Presence != nil
	}
	return false
}
