package telemetry

import (
	"fmt"
	"slices"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/tandem-ha/tandem/core/model"
)

// resolved is a path checked against the schema.
type resolved struct {
	path   *gpb.Path   // parsed, module prefixes dropped
	entry  *yang.Entry // schema node the path names
	schema string      // schema path without keys, such as /ha/state/role
}

// resolve parses s and walks the schema along its elements. With leaf set
// the path must name a state leaf (or leaf-list, or list key leaf) with
// every list key given; otherwise it may name any node, and the last
// element may be a list without keys (the whole list).
func resolve(s string, leaf bool) (*resolved, error) {
	if s == "" {
		s = "/"
	}
	p, err := model.ParsePath(s)
	if err != nil {
		return nil, err
	}
	cur := model.Root()
	var sp strings.Builder
	elems := p.GetElem()
	for i, e := range elems {
		child := cur.Dir[e.GetName()]
		if child == nil {
			return nil, fmt.Errorf("path %s: unknown node %q in the YANG schema; check the path against yang/*.yang", s, e.GetName())
		}
		sp.WriteString("/" + e.GetName())
		if err := checkKeys(s, child, e, leaf || i < len(elems)-1); err != nil {
			return nil, err
		}
		cur = child
	}
	r := &resolved{path: p, entry: cur, schema: sp.String()}
	if r.schema == "" {
		r.schema = "/"
	}
	if !leaf {
		return r, nil
	}
	if !cur.IsLeaf() && !cur.IsLeafList() {
		return nil, fmt.Errorf("path %s: not a leaf; give the path of a state leaf", s)
	}
	if !cur.ReadOnly() && !isListKey(cur) {
		return nil, fmt.Errorf("path %s: configuration (config true) leaf; the state tree holds only state, use the matching leaf in the state container", s)
	}
	return r, nil
}

// checkKeys checks the keys of path element e against schema node n. When
// full is set, a list element must carry all of its keys.
func checkKeys(s string, n *yang.Entry, e *gpb.PathElem, full bool) error {
	keys := e.GetKey()
	if !n.IsList() {
		if len(keys) > 0 {
			return fmt.Errorf("path %s: %q is not a list and takes no keys", s, e.GetName())
		}
		return nil
	}
	want := strings.Fields(n.Key)
	if len(keys) == 0 && !full {
		return nil
	}
	if len(keys) != len(want) {
		return fmt.Errorf("path %s: list %q needs its key(s) %s", s, e.GetName(), strings.Join(want, ", "))
	}
	for k := range keys {
		if !slices.Contains(want, k) {
			return fmt.Errorf("path %s: list %q has no key %q (keys: %s)", s, e.GetName(), k, strings.Join(want, ", "))
		}
	}
	return nil
}

// isListKey reports whether leaf n is a key of the list that holds it.
func isListKey(n *yang.Entry) bool {
	p := n.Parent
	return p != nil && p.IsList() && slices.Contains(strings.Fields(p.Key), n.Name)
}
