package gnmi

import (
	"context"
	"sort"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// Get reads configuration (from the running configuration, secrets
// removed) and state (from the state tree), by GetRequest.type.
func (s *gnmiService) Get(ctx context.Context, req *gpb.GetRequest) (*gpb.GetResponse, error) {
	if err := checkRead(ctx, "gNMI Get"); err != nil {
		return nil, err
	}
	if err := s.checkTarget(req.GetPrefix()); err != nil {
		return nil, err
	}
	if err := checkOrigin(append([]*gpb.Path{req.GetPrefix()}, req.GetPath()...)...); err != nil {
		return nil, err
	}
	enc := req.GetEncoding()
	if err := checkEncoding(enc); err != nil {
		return nil, err
	}
	typ := req.GetType()
	if _, ok := gpb.GetRequest_DataType_name[int32(typ)]; !ok {
		return nil, invalidf("type %d: not a GetRequest.DataType; use ALL, CONFIG, STATE or OPERATIONAL", typ)
	}
	if typ == gpb.GetRequest_ALL || typ == gpb.GetRequest_CONFIG {
		if err := s.mirror.refresh(); err != nil {
			return nil, grpcError(err)
		}
	}
	paths := req.GetPath()
	if len(paths) == 0 {
		paths = []*gpb.Path{{}}
	}
	now := time.Now().UnixNano()
	resp := &gpb.GetResponse{}
	for _, path := range paths {
		p, err := newPattern(req.GetPrefix(), path)
		if err != nil {
			return nil, err
		}
		leaves, err := s.read(p, typ)
		if err != nil {
			return nil, grpcError(err)
		}
		if len(leaves) == 0 && !p.wild {
			return nil, notFoundf("path %s: no %s data there", p.text, dataName(typ))
		}
		n := &gpb.Notification{Timestamp: now, Prefix: &gpb.Path{Target: req.GetPrefix().GetTarget()}}
		if n.Update, err = encodeLeaves(p, leaves, enc); err != nil {
			return nil, grpcError(err)
		}
		resp.Notification = append(resp.Notification, n)
	}
	return resp, nil
}

func dataName(t gpb.GetRequest_DataType) string {
	switch t {
	case gpb.GetRequest_CONFIG:
		return "configuration"
	case gpb.GetRequest_STATE:
		return "state"
	case gpb.GetRequest_OPERATIONAL:
		return "operational state"
	}
	return "configuration or state"
}

// read collects the leaves p matches in the sources typ selects, sorted
// by path. A leaf in both (a list key) is taken once.
func (s *gnmiService) read(p *pattern, typ gpb.GetRequest_DataType) ([]leaf, error) {
	seen := map[string]bool{}
	var out []leaf
	keep := func(l leaf) {
		if seen[l.key] {
			return
		}
		seen[l.key] = true
		out = append(out, l)
	}
	if typ == gpb.GetRequest_ALL || typ == gpb.GetRequest_CONFIG {
		if err := s.mirror.source().collect(p, keep); err != nil {
			return nil, err
		}
	}
	if typ != gpb.GetRequest_CONFIG {
		err := s.tree.collect(p, func(l leaf) {
			if typ == gpb.GetRequest_OPERATIONAL {
				if c := classify(l.elems); c.config || c.applied {
					return
				}
			}
			keep(l)
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// encodeLeaves turns the leaves p matched into updates: one per leaf for
// PROTO; for JSON and JSON_IETF one per node the pattern names (each
// match of a wildcard), holding the JSON of its subtree.
func encodeLeaves(p *pattern, leaves []leaf, enc gpb.Encoding) ([]*gpb.Update, error) {
	var out []*gpb.Update
	if enc == gpb.Encoding_PROTO {
		for _, l := range leaves {
			out = append(out, &gpb.Update{Path: &gpb.Path{Elem: l.elems}, Val: l.val})
		}
		return out, nil
	}
	type group struct {
		root   []*gpb.PathElem
		leaves []leaf
	}
	var order []string
	groups := map[string]*group{}
	for _, l := range leaves {
		n, _ := p.matchLen(l.elems)
		k := pathKey(l.elems[:n])
		g := groups[k]
		if g == nil {
			g = &group{root: l.elems[:n]}
			groups[k] = g
			order = append(order, k)
		}
		g.leaves = append(g.leaves, l)
	}
	for _, k := range order {
		g := groups[k]
		var (
			val *gpb.TypedValue
			err error
		)
		if len(g.leaves) == 1 && len(g.root) == len(g.leaves[0].elems) {
			val, err = leafValue(g.root, g.leaves[0].val, enc)
		} else {
			val, err = subtreeJSON(g.leaves, g.root, enc)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, &gpb.Update{Path: &gpb.Path{Elem: g.root}, Val: val})
	}
	return out, nil
}
