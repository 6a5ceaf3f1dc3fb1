package xmltree

import (
	"slices"

	"github.com/openconfig/goyang/pkg/yang"
)

// Node is one data node: a container, a list entry, a leaf or one value
// of a leaf-list. Lists and leaf-lists are sibling Nodes of the same name,
// as in XML.
type Node struct {
	// Name is the node's local name.
	Name string
	// Module is the YANG module that defines the node (its JSON
	// qualifier); empty for nodes outside the schema.
	Module string
	// Namespace is the node's XML namespace.
	Namespace string
	// Entry is the node's schema, nil for nodes built without one (such
	// as the ietf-netconf-monitoring data the server reports itself).
	Entry *yang.Entry
	// Leaf is true for leaves and leaf-list values.
	Leaf bool
	// Value is a leaf's value in its XML form; for an identity, the
	// identity's name without prefix.
	Value string
	// ValueModule is the module of an identityref value (for nodes
	// without schema, the identity's namespace), else "".
	ValueModule string
	// Children are the child nodes in document order.
	Children []*Node
	// Op is the edit-config operation attribute given on the node
	// (merge, replace, create, delete, remove, none), or "".
	Op string
	// Default marks a leaf that was not set and reports its YANG default
	// (with-defaults report-all-tagged).
	Default bool
}

// Clone returns a deep copy of n.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Children = make([]*Node, len(n.Children))
	for i, ch := range n.Children {
		c.Children[i] = ch.Clone()
	}
	return &c
}

// Child returns the first child with the given namespace and name.
func (n *Node) Child(ns, name string) *Node {
	for _, c := range n.Children {
		if c.Name == name && c.Namespace == ns {
			return c
		}
	}
	return nil
}

// KeyValues returns the values of a list entry's key leaves in key
// order ("" for a missing key).
func (n *Node) KeyValues() []string {
	keys := Keys(n.Entry)
	out := make([]string, len(keys))
	for i, k := range keys {
		if c := n.Child(n.Namespace, k); c != nil {
			out[i] = c.Value
		}
	}
	return out
}

// IsList reports whether n is a list entry.
func (n *Node) IsList() bool { return n.Entry != nil && n.Entry.IsList() }

// IsLeafList reports whether n is a value of a leaf-list.
func (n *Node) IsLeafList() bool { return n.Entry != nil && n.Entry.IsLeafList() }

// SameInstance reports whether n and o denote the same data node
// instance: same name and namespace, and for list entries the same keys,
// for leaf-list values the same value.
func (n *Node) SameInstance(o *Node) bool {
	if n.Name != o.Name || n.Namespace != o.Namespace {
		return false
	}
	switch {
	case n.IsList():
		return slices.Equal(n.KeyValues(), o.KeyValues())
	case n.IsLeafList():
		return n.Value == o.Value && n.ValueModule == o.ValueModule
	}
	return true
}

// Find returns the child of n that is the same instance as o, or nil.
func (n *Node) Find(o *Node) *Node {
	for _, c := range n.Children {
		if c.SameInstance(o) {
			return c
		}
	}
	return nil
}

// Remove deletes child c from n.
func (n *Node) Remove(c *Node) {
	n.Children = slices.DeleteFunc(n.Children, func(x *Node) bool { return x == c })
}

// Add appends c to n's children, after the last sibling of the same name
// so that list entries and leaf-list values stay together, and keeps the
// keys of a list entry first.
func (n *Node) Add(c *Node) {
	at := len(n.Children)
	for i := len(n.Children) - 1; i >= 0; i-- {
		if n.Children[i].Name == c.Name && n.Children[i].Namespace == c.Namespace {
			at = i + 1
			break
		}
	}
	if c.Entry != nil && isKey(c.Entry) {
		at = 0
		for at < len(n.Children) && n.Children[at].Entry != nil && isKey(n.Children[at].Entry) {
			at++
		}
	}
	n.Children = slices.Insert(n.Children, at, c)
}
