package filter

import (
	"fmt"
	"strings"

	"github.com/antchfx/xpath"

	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

// XPath returns the nodes the XPath 1.0 expression selects, each with its
// ancestors (and their list keys) and everything below it. ns maps the
// prefixes the expression uses to namespaces (the filter element's
// declarations). Names without a prefix match any namespace. An
// expression that does not give a node-set is an error.
func XPath(data []*xmltree.Node, expr string, ns map[string]string) ([]*xmltree.Node, error) {
	prefixes := map[string]string{}
	for p, u := range ns {
		if p != "" {
			prefixes[p] = u
		}
	}
	x, err := xpath.CompileWithNS(expr, prefixes)
	if err != nil {
		return nil, fmt.Errorf("xpath %q: %w", expr, err)
	}
	root := &xmltree.Node{Children: data}
	start := &navigator{path: []*xmltree.Node{root}, idx: []int{0}}
	var result any
	if err := catch(func() { result = x.Evaluate(start) }); err != nil {
		return nil, fmt.Errorf("xpath %q: %w", expr, err)
	}
	it, ok := result.(*xpath.NodeIterator)
	if !ok {
		return nil, fmt.Errorf("xpath %q gives a %T, not a node-set", expr, result)
	}
	out := &xmltree.Node{}
	copies := map[*xmltree.Node]*xmltree.Node{root: out}
	whole := map[*xmltree.Node]bool{}
	for it.MoveNext() {
		nav, ok := it.Current().(*navigator)
		if !ok {
			continue
		}
		path := nav.path
		if len(path) == 1 { // the root: everything
			return cloneAll(data), nil
		}
		parent := out
		for i, n := range path[1:] {
			last := i == len(path)-2
			if whole[n] {
				break
			}
			c, seen := copies[n]
			if last {
				full := n.Clone()
				if seen {
					*c = *full
				} else {
					c = full
					parent.Add(c)
					copies[n] = c
				}
				whole[n] = true
				break
			}
			if !seen {
				c = shallow(n)
				parent.Add(c)
				copies[n] = c
			}
			parent = c
		}
	}
	return out.Children, nil
}

// catch turns a panic of the XPath engine (it panics on some type errors
// of functions) into an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

func cloneAll(nodes []*xmltree.Node) []*xmltree.Node {
	out := make([]*xmltree.Node, len(nodes))
	for i, n := range nodes {
		out[i] = n.Clone()
	}
	return out
}

// shallow copies n without children, except the keys of a list entry.
func shallow(n *xmltree.Node) *xmltree.Node {
	c := *n
	c.Children = nil
	for _, k := range xmltree.Keys(n.Entry) {
		if kc := n.Child(n.Namespace, k); kc != nil {
			c.Children = append(c.Children, kc.Clone())
		}
	}
	return &c
}

// navigator walks a Node tree for the XPath engine. path[0] is a
// synthetic root holding the top-level nodes; idx[i] is path[i]'s index
// among its parent's children. text is set on the text child of a leaf.
type navigator struct {
	path []*xmltree.Node
	idx  []int
	text bool
}

func (n *navigator) cur() *xmltree.Node { return n.path[len(n.path)-1] }

func (n *navigator) NodeType() xpath.NodeType {
	switch {
	case n.text:
		return xpath.TextNode
	case len(n.path) == 1:
		return xpath.RootNode
	}
	return xpath.ElementNode
}

func (n *navigator) LocalName() string {
	if n.text || len(n.path) == 1 {
		return ""
	}
	return n.cur().Name
}

func (n *navigator) Prefix() string { return "" }

// NamespaceURL lets prefixed name tests match by namespace.
func (n *navigator) NamespaceURL() string {
	if n.text || len(n.path) == 1 {
		return ""
	}
	return n.cur().Namespace
}

func (n *navigator) Value() string {
	c := n.cur()
	if c.Leaf {
		return c.Value
	}
	var b strings.Builder
	var walk func(*xmltree.Node)
	walk = func(x *xmltree.Node) {
		if x.Leaf {
			b.WriteString(x.Value)
		}
		for _, ch := range x.Children {
			walk(ch)
		}
	}
	walk(c)
	return b.String()
}

func (n *navigator) Copy() xpath.NodeNavigator {
	return &navigator{path: append([]*xmltree.Node(nil), n.path...), idx: append([]int(nil), n.idx...), text: n.text}
}

func (n *navigator) MoveToRoot() {
	n.path, n.idx, n.text = n.path[:1], n.idx[:1], false
}

func (n *navigator) MoveToParent() bool {
	if n.text {
		n.text = false
		return true
	}
	if len(n.path) == 1 {
		return false
	}
	n.path, n.idx = n.path[:len(n.path)-1], n.idx[:len(n.idx)-1]
	return true
}

func (n *navigator) MoveToNextAttribute() bool { return false }

func (n *navigator) MoveToChild() bool {
	if n.text {
		return false
	}
	c := n.cur()
	if c.Leaf {
		if c.Value == "" {
			return false
		}
		n.text = true
		return true
	}
	if len(c.Children) == 0 {
		return false
	}
	n.path, n.idx = append(n.path, c.Children[0]), append(n.idx, 0)
	return true
}

func (n *navigator) sibling(i int) bool {
	if n.text || len(n.path) == 1 {
		return false
	}
	parent := n.path[len(n.path)-2]
	if i < 0 || i >= len(parent.Children) {
		return false
	}
	n.path[len(n.path)-1], n.idx[len(n.idx)-1] = parent.Children[i], i
	return true
}

func (n *navigator) MoveToFirst() bool { return n.sibling(0) }

func (n *navigator) MoveToNext() bool { return n.sibling(n.idx[len(n.idx)-1] + 1) }

func (n *navigator) MoveToPrevious() bool { return n.sibling(n.idx[len(n.idx)-1] - 1) }

func (n *navigator) MoveTo(other xpath.NodeNavigator) bool {
	o, ok := other.(*navigator)
	if !ok || o.path[0] != n.path[0] {
		return false
	}
	n.path = append(n.path[:0], o.path...)
	n.idx = append(n.idx[:0], o.idx...)
	n.text = o.text
	return true
}
