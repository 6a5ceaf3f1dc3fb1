package gnmi

import (
	"context"
	"fmt"
	"strings"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"
	"google.golang.org/grpc/status"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/northbound/service"
)

// setOp is one operation of a SetRequest.
type setOp struct {
	op   gpb.UpdateResult_Operation
	path *gpb.Path // as the client gave it, for the result
	pat  *pattern
	val  *gpb.TypedValue // nil for a delete
}

// Set applies every operation of the request to the running configuration
// as one transaction: deletes, then replaces, then updates, then
// union_replaces (merged per path), validated and committed as one
// revision, or nothing at all.
func (s *gnmiService) Set(ctx context.Context, req *gpb.SetRequest) (*gpb.SetResponse, error) {
	p := principalOf(ctx)
	if err := s.checkTarget(req.GetPrefix()); err != nil {
		return nil, err
	}
	if err := s.b.CheckConfigure(p, "gNMI Set"); err != nil {
		return nil, grpcError(err)
	}
	ops, err := planSet(req)
	if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return &gpb.SetResponse{Prefix: req.GetPrefix(), Timestamp: time.Now().UnixNano()}, nil
	}
	meta := service.Meta(p, store.OriginGNMI, setComment(ops))
	_, err = s.b.Store.Update(ctx, "gnmi:"+p.User, meta, func(d *tandem.Device) error {
		replaced := map[string]bool{}
		for _, op := range ops {
			if err := op.apply(d, replaced); err != nil {
				return err
			}
		}
		model.Normalize(d)
		if sp := model.StatePaths(d); len(sp) > 0 {
			return service.Errorf(service.KindInvalid, "%s: state (config false) cannot be set; leave it out of the value", strings.Join(sp, ", "))
		}
		return nil
	})
	if err != nil {
		return nil, grpcError(err)
	}
	if err := s.mirror.refresh(); err != nil {
		s.log.Error("configuration mirror", "err", err)
	}
	resp := &gpb.SetResponse{Prefix: req.GetPrefix(), Timestamp: time.Now().UnixNano()}
	for _, op := range ops {
		resp.Response = append(resp.Response, &gpb.UpdateResult{Path: op.path, Op: op.op})
	}
	return resp, nil
}

// planSet checks every path and value of req and returns the operations
// in the order they apply.
func planSet(req *gpb.SetRequest) ([]setOp, error) {
	var ops []setOp
	add := func(op gpb.UpdateResult_Operation, path *gpb.Path, val *gpb.TypedValue) error {
		if err := checkOrigin(req.GetPrefix(), path); err != nil {
			return err
		}
		pat, err := newPattern(req.GetPrefix(), path)
		if err != nil {
			return err
		}
		if op != gpb.UpdateResult_DELETE {
			if pat.wild {
				return invalidf("%s %s: wildcards are allowed in delete paths only; name the node", opName(op), pat.text)
			}
			if val, err = setValue(pat, val); err != nil {
				return invalidf("%s %s: %v", opName(op), pat.text, err)
			}
		}
		if pat.entry != nil && pat.entry.ReadOnly() {
			return invalidf("%s %s: state (config false) cannot be changed; configure the matching config node", opName(op), pat.text)
		}
		ops = append(ops, setOp{op: op, path: path, pat: pat, val: val})
		return nil
	}
	for _, path := range req.GetDelete() {
		if err := add(gpb.UpdateResult_DELETE, path, nil); err != nil {
			return nil, err
		}
	}
	for _, lists := range []struct {
		op      gpb.UpdateResult_Operation
		updates []*gpb.Update
	}{
		{gpb.UpdateResult_REPLACE, req.GetReplace()},
		{gpb.UpdateResult_UPDATE, req.GetUpdate()},
		{gpb.UpdateResult_UNION_REPLACE, req.GetUnionReplace()},
	} {
		for _, u := range lists.updates {
			if err := add(lists.op, u.GetPath(), u.GetVal()); err != nil {
				return nil, err
			}
		}
	}
	return ops, nil
}

func opName(op gpb.UpdateResult_Operation) string {
	return strings.ToLower(op.String())
}

// setValue checks a value to set at pat: JSON_IETF or JSON (taken as
// RFC 7951) for any node, a scalar TypedValue for a leaf.
func setValue(pat *pattern, v *gpb.TypedValue) (*gpb.TypedValue, error) {
	leafy := pat.entry.IsLeaf() || pat.entry.IsLeafList()
	switch x := v.GetValue().(type) {
	case nil:
		return nil, fmt.Errorf("no value; send JSON_IETF (or JSON) for a container, list or leaf, a scalar for a leaf")
	case *gpb.TypedValue_JsonIetfVal:
		return v, nil
	case *gpb.TypedValue_JsonVal:
		return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: x.JsonVal}}, nil
	case *gpb.TypedValue_AsciiVal, *gpb.TypedValue_ProtoBytes, *gpb.TypedValue_AnyVal:
		return nil, fmt.Errorf("%T values are not supported; use JSON_IETF", x)
	}
	if !leafy {
		return nil, fmt.Errorf("a scalar value for %s, which is not a leaf; send its JSON_IETF", schemaPath(pat.entry))
	}
	return v, nil
}

// apply makes the operation on d. replaced records the union_replace
// paths already cleared in this request.
func (o setOp) apply(d *tandem.Device, replaced map[string]bool) error {
	fail := func(err error) error {
		msg := err.Error()
		if st, ok := status.FromError(err); ok {
			msg = st.Message() // ygot's errors are gRPC statuses
		}
		return service.Errorf(service.KindInvalid, "%s %s: %s", opName(o.op), o.pat.text, msg)
	}
	path := &gpb.Path{Elem: o.pat.elems}
	switch o.op {
	case gpb.UpdateResult_DELETE:
		if err := deleteMatches(d, o.pat); err != nil {
			return fail(err)
		}
		return nil
	case gpb.UpdateResult_REPLACE:
		if err := clearNode(d, o.pat); err != nil {
			return fail(err)
		}
	case gpb.UpdateResult_UNION_REPLACE:
		if k := pathKey(o.pat.elems); !replaced[k] {
			replaced[k] = true
			if err := clearNode(d, o.pat); err != nil {
				return fail(err)
			}
		}
	}
	if err := ytypes.SetNode(model.Root(), d, path, o.val, &ytypes.InitMissingElements{}, &ytypes.TolerateJSONInconsistencies{}); err != nil {
		return fail(err)
	}
	return nil
}

// clearNode removes the node at a concrete pattern (everything for the root).
func clearNode(d *tandem.Device, p *pattern) error {
	if p.isRoot() {
		*d = tandem.Device{}
		return nil
	}
	return ytypes.DeleteNode(model.Root(), d, &gpb.Path{Elem: p.elems})
}

// deleteMatches removes every node p names; with wildcards, every match
// among d's leaves. Deleting what is not there is no error.
func deleteMatches(d *tandem.Device, p *pattern) error {
	if !p.wild {
		return clearNode(d, p)
	}
	ns, err := ygot.TogNMINotifications(d, 0, ygot.GNMINotificationsConfig{UsePathElem: true})
	if err != nil {
		return err
	}
	var roots [][]*gpb.PathElem
	seen := map[string]bool{}
	for _, n := range ns {
		for _, u := range n.GetUpdate() {
			elems := append(append([]*gpb.PathElem(nil), n.GetPrefix().GetElem()...), u.GetPath().GetElem()...)
			if ml, ok := p.matchLen(elems); ok && !seen[pathKey(elems[:ml])] {
				seen[pathKey(elems[:ml])] = true
				roots = append(roots, elems[:ml])
			}
		}
	}
	for _, r := range roots {
		if err := ytypes.DeleteNode(model.Root(), d, &gpb.Path{Elem: r}); err != nil {
			return fmt.Errorf("%s: %w", pathKey(r), err)
		}
	}
	return nil
}

// setComment summarises the request for the revision history.
func setComment(ops []setOp) string {
	counts := map[gpb.UpdateResult_Operation]int{}
	for _, o := range ops {
		counts[o.op]++
	}
	var parts []string
	for _, op := range []gpb.UpdateResult_Operation{gpb.UpdateResult_DELETE, gpb.UpdateResult_REPLACE, gpb.UpdateResult_UPDATE, gpb.UpdateResult_UNION_REPLACE} {
		if counts[op] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[op], opName(op)))
		}
	}
	return "gNMI Set: " + strings.Join(parts, ", ")
}
