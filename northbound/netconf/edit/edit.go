// Package edit applies the operations of a NETCONF <edit-config> (RFC
// 6241 section 7.2: merge, replace, create, delete, remove and the
// default operation none) to a data tree.
package edit

import (
	"fmt"

	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

// Error is an edit that cannot be applied. Tag is the NETCONF error-tag:
// data-exists (create of an existing node) or data-missing (delete of a
// missing node).
type Error struct {
	Tag string
	// Path holds the nodes from the top level down to the offending one.
	Path []*xmltree.Node
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.DataPath(), e.Msg) }

// DataPath renders Path as a data path with list keys, such as
// /interfaces/interface[name=X5].
func (e *Error) DataPath() string {
	s := ""
	for _, n := range e.Path {
		s += "/" + n.Name
		if n.IsList() {
			for i, k := range xmltree.Keys(n.Entry) {
				s += fmt.Sprintf("[%s=%s]", k, n.KeyValues()[i])
			}
		}
	}
	return s
}

// Options tune Apply.
type Options struct {
	// DefaultOperation is merge (the default), replace or none.
	DefaultOperation string
	// ContinueOnError applies every edit that can be applied and reports
	// all failures (error-option continue-on-error); otherwise Apply
	// stops at the first failure.
	ContinueOnError bool
}

// Apply applies edits to a copy of the top-level nodes data and returns
// the result with every failure. data is not modified. A default
// operation replace makes the edits the whole new content (RFC 6241: the
// <config> completely replaces the target).
func Apply(data, edits []*xmltree.Node, opts Options) ([]*xmltree.Node, []error) {
	def := opts.DefaultOperation
	if def == "" {
		def = "merge"
	}
	root := &xmltree.Node{}
	if def != "replace" {
		for _, n := range data {
			root.Children = append(root.Children, n.Clone())
		}
	}
	a := &applier{cont: opts.ContinueOnError}
	for _, e := range edits {
		op := def
		if def == "replace" && e.Op == "" {
			op = "merge" // into the emptied datastore
		}
		if err := a.apply(root, e, op, nil); err != nil && !a.cont {
			break
		}
	}
	return root.Children, a.errs
}

type applier struct {
	cont bool
	errs []error
}

// fail records an error; the returned error tells callers to stop unless
// errors are collected.
func (a *applier) fail(err error) error {
	a.errs = append(a.errs, err)
	if a.cont {
		return nil
	}
	return err
}

func (a *applier) apply(parent, e *xmltree.Node, inherited string, path []*xmltree.Node) error {
	op := e.Op
	if op == "" {
		op = inherited
	}
	here := append(append([]*xmltree.Node(nil), path...), e)
	cur := parent.Find(e)
	switch op {
	case "delete":
		if cur == nil {
			return a.fail(&Error{Tag: "data-missing", Path: here, Msg: "delete of a node that does not exist"})
		}
		parent.Remove(cur)
		return nil
	case "remove":
		if cur != nil {
			parent.Remove(cur)
		}
		return nil
	case "create":
		if cur != nil {
			return a.fail(&Error{Tag: "data-exists", Path: here, Msg: "create of a node that already exists"})
		}
		n, err := a.build(e, here)
		if err != nil || n == nil {
			return err
		}
		parent.Add(n)
		return nil
	case "replace":
		n, err := a.build(e, here)
		if err != nil {
			return err
		}
		if cur != nil {
			*cur = *n
		} else {
			parent.Add(n)
		}
		return nil
	}
	// merge or none
	if e.Leaf {
		switch {
		case cur == nil && op == "merge":
			n, _ := a.build(e, here)
			parent.Add(n)
		case cur != nil && op == "merge":
			cur.Value, cur.ValueModule = e.Value, e.ValueModule
		}
		return nil
	}
	created := false
	if cur == nil {
		cur = shell(e)
		parent.Add(cur)
		created = true
	}
	keys := xmltree.Keys(e.Entry)
	for _, c := range e.Children {
		if isKeyOf(c, e, keys) {
			continue
		}
		if err := a.apply(cur, c, op, here); err != nil {
			return err
		}
	}
	if created && op == "none" && len(cur.Children) == len(keys) {
		parent.Remove(cur) // nothing below needed it
	}
	return nil
}

// build makes the node an edit creates: the edit without operation
// attributes, where nested deletes of what cannot exist fail and nested
// removes are dropped.
func (a *applier) build(e *xmltree.Node, here []*xmltree.Node) (*xmltree.Node, error) {
	n := *e
	n.Op, n.Children = "", nil
	for _, c := range e.Children {
		switch c.Op {
		case "delete":
			if err := a.fail(&Error{Tag: "data-missing", Path: append(append([]*xmltree.Node(nil), here...), c), Msg: "delete of a node that does not exist"}); err != nil {
				return nil, err
			}
			continue
		case "remove":
			continue
		}
		cn, err := a.build(c, append(append([]*xmltree.Node(nil), here...), c))
		if err != nil {
			return nil, err
		}
		n.Children = append(n.Children, cn)
	}
	return &n, nil
}

// shell returns a new, empty node for e: a container, or a list entry
// with only its keys.
func shell(e *xmltree.Node) *xmltree.Node {
	n := &xmltree.Node{Name: e.Name, Module: e.Module, Namespace: e.Namespace, Entry: e.Entry}
	for _, k := range xmltree.Keys(e.Entry) {
		if c := e.Child(e.Namespace, k); c != nil {
			kc := *c
			kc.Op = ""
			n.Children = append(n.Children, &kc)
		}
	}
	return n
}

func isKeyOf(c, e *xmltree.Node, keys []string) bool {
	if c.Namespace != e.Namespace {
		return false
	}
	for _, k := range keys {
		if c.Name == k {
			return true
		}
	}
	return false
}
