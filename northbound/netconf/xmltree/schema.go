// Package xmltree converts YANG-modelled data between NETCONF XML and the
// RFC 7951 JSON encoding that the rest of tandem uses, driven by the YANG
// schema: XML namespaces come from each module's namespace, list keys are
// written first, leaf-lists are repeated elements, identities carry the
// prefix of their module, unions are resolved to their first matching
// member type, empty leaves are [null] in JSON and an empty element in
// XML. Both directions go through Node, a schema-annotated data tree that
// edit-config, filters and with-defaults work on.
package xmltree

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
)

// Module is one YANG module of a Schema.
type Module struct {
	// Name is the module name, such as tandem-ha.
	Name string
	// Namespace is the module's XML namespace.
	Namespace string
	// Prefix is the module's own prefix.
	Prefix string
	// Revision is the newest revision date, or "".
	Revision string
	// Source is the module's YANG text.
	Source []byte
	// Entry is the module's schema tree.
	Entry *yang.Entry
	// Implemented is true when the module defines data nodes or rpcs,
	// false when it only provides types to others (import-only).
	Implemented bool
}

// Schema is a set of YANG modules with their data trees.
type Schema struct {
	modules map[string]*Module
	byNS    map[string]*Module
	order   []string
}

// Load parses every file matching the glob patterns in fsys as a YANG
// module and resolves the set.
func Load(fsys fs.FS, patterns ...string) (*Schema, error) {
	ms := yang.NewModules()
	sources := map[string][]byte{}
	for _, pat := range patterns {
		names, err := fs.Glob(fsys, pat)
		if err != nil {
			return nil, fmt.Errorf("yang sources %q: %w", pat, err)
		}
		for _, name := range names {
			data, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("yang source %s: %w", name, err)
			}
			if err := ms.Parse(string(data), name); err != nil {
				return nil, fmt.Errorf("yang source %s: %w", name, err)
			}
			sources[strings.TrimSuffix(path.Base(name), ".yang")] = data
		}
	}
	if errs := ms.Process(); len(errs) > 0 {
		return nil, fmt.Errorf("yang modules: %v", errs)
	}
	s := &Schema{modules: map[string]*Module{}, byNS: map[string]*Module{}}
	for name, src := range sources {
		m, ok := ms.Modules[name]
		if !ok {
			continue // a submodule
		}
		e := yang.ToEntry(m)
		if errs := e.GetErrors(); len(errs) > 0 {
			return nil, fmt.Errorf("yang module %s: %v", name, errs)
		}
		mod := &Module{Name: name, Namespace: m.Namespace.Name, Prefix: m.Prefix.Name, Source: src, Entry: e, Implemented: len(e.Dir) > 0}
		if r := m.Current(); r != "" {
			mod.Revision = r
		}
		s.modules[name] = mod
		s.byNS[mod.Namespace] = mod
		s.order = append(s.order, name)
	}
	sort.Strings(s.order)
	return s, nil
}

// Modules lists the modules by name.
func (s *Schema) Modules() []*Module {
	out := make([]*Module, len(s.order))
	for i, n := range s.order {
		out[i] = s.modules[n]
	}
	return out
}

// Module returns the named module, or nil.
func (s *Schema) Module(name string) *Module { return s.module(name) }

func (s *Schema) module(name string) *Module {
	if s == nil {
		return nil
	}
	return s.modules[name]
}

// ModuleByNamespace returns the module with the XML namespace ns, or nil.
func (s *Schema) ModuleByNamespace(ns string) *Module { return s.byNS[ns] }

// Top returns the top-level data node name of module mod (a container,
// list, leaf or leaf-list, not an rpc), or nil.
func (s *Schema) Top(mod, name string) *yang.Entry {
	m := s.modules[mod]
	if m == nil {
		return nil
	}
	e := m.Entry.Dir[name]
	if e == nil || e.RPC != nil || e.Kind == yang.NotificationEntry {
		return nil
	}
	return e
}

// RPC returns the rpc name of module mod, or nil.
func (s *Schema) RPC(mod, name string) *yang.Entry {
	m := s.modules[mod]
	if m == nil {
		return nil
	}
	if e := m.Entry.Dir[name]; e != nil && e.RPC != nil {
		return e
	}
	return nil
}

// moduleOf returns the module that defines e's namespace.
func (s *Schema) moduleOf(e *yang.Entry) *Module {
	if ns := e.Namespace(); ns != nil {
		if m := s.byNS[ns.Name]; m != nil {
			return m
		}
	}
	for ; e.Parent != nil; e = e.Parent {
	}
	return s.modules[e.Name]
}

// Keys returns the key leaf names of list entry e, in key order.
func Keys(e *yang.Entry) []string {
	if e == nil || !e.IsList() {
		return nil
	}
	return strings.Fields(e.Key)
}

// isKey reports whether leaf e is a key of the list that holds it.
func isKey(e *yang.Entry) bool {
	if e == nil || e.Parent == nil || !e.Parent.IsList() {
		return false
	}
	for _, k := range Keys(e.Parent) {
		if k == e.Name {
			return true
		}
	}
	return false
}

// ChildNames returns the names of e's schema children in the order
// Node trees use: list keys first (in key order), then the rest by name.
func ChildNames(e *yang.Entry) []string {
	keys := Keys(e)
	seen := map[string]bool{}
	out := append([]string(nil), keys...)
	for _, k := range keys {
		seen[k] = true
	}
	var rest []string
	for n, c := range e.Dir {
		if !seen[n] && c.RPC == nil {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// leafType returns the type of leaf e with leafrefs resolved to the type
// of the leaf they point at.
func leafType(e *yang.Entry) *yang.YangType {
	t := e.Type
	for i := 0; t != nil && t.Kind == yang.Yleafref && i < 8; i++ {
		target := e.Find(t.Path)
		if target == nil || target.Type == nil {
			return &yang.YangType{Kind: yang.Ystring, Name: "string"}
		}
		e, t = target, target.Type
	}
	return t
}
