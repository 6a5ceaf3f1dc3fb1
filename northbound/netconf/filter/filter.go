// Package filter selects parts of a data tree for NETCONF <get>,
// <get-config> and notifications: subtree filters (RFC 6241 section 6)
// and XPath 1.0 filters (the :xpath capability, section 8.9).
package filter

import (
	"strings"

	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

// Subtree returns the parts of data that the subtree filter elements f
// select, as new nodes (data is not modified). An empty filter selects
// nothing. Filter elements without a namespace match any namespace.
func Subtree(data []*xmltree.Node, f []*xmltree.Element) []*xmltree.Node {
	out, _ := siblings(data, f)
	return out
}

// Matches reports whether a subtree filter selects anything of data.
func Matches(data []*xmltree.Node, f []*xmltree.Element) bool {
	return len(Subtree(data, f)) > 0
}

// siblings applies one sibling set of filter elements to the children of
// a data node. It returns the selected children and whether every
// content match node of the set matched (else the parent is not
// selected).
func siblings(children []*xmltree.Node, fs []*xmltree.Element) ([]*xmltree.Node, bool) {
	var content, other []*xmltree.Element
	for _, f := range fs {
		if len(f.Children) == 0 && strings.TrimSpace(f.Text) != "" {
			content = append(content, f)
		} else {
			other = append(other, f)
		}
	}
	for _, f := range content {
		found := false
		for _, c := range children {
			if c.Leaf && nameMatches(f, c) && valueMatches(f, c) {
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	if len(other) == 0 {
		if len(content) == 0 {
			return nil, true
		}
		out := make([]*xmltree.Node, len(children))
		for i, c := range children {
			out[i] = c.Clone()
		}
		return out, true
	}
	var out []*xmltree.Node
	for _, c := range children {
		if sel := selectChild(c, content, other); sel != nil {
			out = append(out, sel)
		}
	}
	return out, true
}

// selectChild returns what of data node c the filter set selects, or nil.
func selectChild(c *xmltree.Node, content, other []*xmltree.Element) *xmltree.Node {
	for _, f := range content {
		if c.Leaf && nameMatches(f, c) && valueMatches(f, c) {
			return c.Clone()
		}
	}
	for _, f := range other {
		if !nameMatches(f, c) {
			continue
		}
		if len(f.Children) == 0 || c.Leaf { // selection node
			return c.Clone()
		}
		sub, ok := siblings(c.Children, f.Children)
		if !ok || len(sub) == 0 {
			continue
		}
		n := *c
		n.Children = withKeys(c, sub)
		return &n
	}
	return nil
}

// withKeys puts the key leaves of list entry c in front of sel when the
// filter did not select them.
func withKeys(c *xmltree.Node, sel []*xmltree.Node) []*xmltree.Node {
	keys := xmltree.Keys(c.Entry)
	var out []*xmltree.Node
	for _, k := range keys {
		if kc := c.Child(c.Namespace, k); kc != nil && !hasNode(sel, kc) {
			out = append(out, kc.Clone())
		}
	}
	return append(out, sel...)
}

func hasNode(list []*xmltree.Node, n *xmltree.Node) bool {
	for _, x := range list {
		if x.Name == n.Name && x.Namespace == n.Namespace {
			return true
		}
	}
	return false
}

func nameMatches(f *xmltree.Element, n *xmltree.Node) bool {
	return f.Name.Local == n.Name && (f.Name.Space == "" || f.Name.Space == n.Namespace)
}

// valueMatches compares a content match node with a leaf; identity values
// compare by name when the filter's prefix names the identity's module.
func valueMatches(f *xmltree.Element, n *xmltree.Node) bool {
	want := strings.TrimSpace(f.Text)
	if n.ValueModule != "" {
		if _, name, ok := strings.Cut(want, ":"); ok {
			want = name
		}
	}
	return want == n.Value
}
