package gnmi

import (
	"github.com/openconfig/gnmi/cache"
	"github.com/openconfig/gnmi/ctree"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// leaf is one value of a source.
type leaf struct {
	key   string // pathKey(elems)
	elems []*gpb.PathElem
	val   *gpb.TypedValue
	ts    int64
}

// source is a gNMI cache of leaves: the state tree or the mirror of the
// running configuration. Its notifications hold one update each, with the
// full path in the update and the target in the prefix.
type source struct {
	cache  *cache.Cache
	target string
	config bool
}

// collect calls fn for every leaf of s that p matches. fn must not keep
// or change the leaf's elements and value beyond reading them.
func (s source) collect(p *pattern, fn func(leaf)) error {
	return s.cache.Query(s.target, p.query(), func(_ []string, _ *ctree.Leaf, v any) error {
		n, ok := v.(*gpb.Notification)
		if !ok || len(n.GetUpdate()) != 1 {
			return nil
		}
		u := n.GetUpdate()[0]
		if _, ok := p.matchLen(u.GetPath().GetElem()); !ok {
			return nil
		}
		elems := u.GetPath().GetElem()
		fn(leaf{key: pathKey(elems), elems: elems, val: u.GetVal(), ts: n.GetTimestamp()})
		return nil
	})
}

// change is one update or delete a source's cache reports to its client.
type change struct {
	elems  []*gpb.PathElem
	val    *gpb.TypedValue // nil for a delete
	ts     int64
	delete bool
}

// changeOf decodes what the cache hands its client: a notification with
// one update or one delete.
func changeOf(l *ctree.Leaf) (change, bool) {
	n, ok := l.Value().(*gpb.Notification)
	if !ok {
		return change{}, false
	}
	switch {
	case len(n.GetUpdate()) == 1:
		u := n.GetUpdate()[0]
		return change{elems: u.GetPath().GetElem(), val: u.GetVal(), ts: n.GetTimestamp()}, true
	case len(n.GetDelete()) == 1:
		return change{elems: n.GetDelete()[0].GetElem(), ts: n.GetTimestamp(), delete: true}, true
	}
	return change{}, false
}
