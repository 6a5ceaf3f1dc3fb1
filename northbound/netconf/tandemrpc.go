package netconf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
	"github.com/tandem-ha/tandem/northbound/service"
)

// tandemRPC runs an rpc of tandem-operations through Backend.Operate,
// which checks the user role and the HA role (CFG-1, CLU-11).
func (ss *session) tandemRPC(ctx context.Context, op *xmltree.Element) ([]byte, error) {
	s := ss.srv
	rpc := s.schema.RPC(opsModule, op.Name.Local)
	if rpc == nil {
		e := protoErr("operation-not-supported", "%s has no rpc %q", opsModule, op.Name.Local)
		e.Info = [][2]string{{"bad-element", op.Name.Local}}
		return nil, e
	}
	in, err := s.schema.DecodeInput(rpc, op.Children, false)
	if err != nil {
		return nil, err
	}
	call := service.Call{Principal: ss.principal, Session: ss.storeID, Origin: "netconf"}
	if len(in) > 0 {
		if call.Input, err = xmltree.ValueJSON(in, opsModule); err != nil {
			return nil, err
		}
	}
	out, err := s.b.Operate(ctx, op.Name.Local, call)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, nil
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("%s output: %w", op.Name.Local, err)
	}
	ns := op.Name.Space
	if rpc.RPC.Output != nil && len(rpc.RPC.Output.Dir) > 0 {
		if nodes, err := s.schema.InputFromJSON(rpc, raw, true); err == nil {
			return xmlBody(func(w *xmltree.Writer) { s.schema.WriteNodes(w, nodes) }), nil
		}
	}
	// Outputs the YANG does not model (sync-test, config-diff, validate)
	// are rendered from their JSON shape.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	body := xmlBody(func(w *xmltree.Writer) { jsonToXML(w, ns, "", v) })
	if len(body) == 0 {
		return nil, nil
	}
	return body, nil
}

// jsonToXML renders a JSON value as elements in namespace ns: object
// members as child elements, arrays as repeated elements.
func jsonToXML(w *xmltree.Writer, ns, name string, v any) {
	switch x := v.(type) {
	case map[string]any:
		if name != "" {
			w.Start(ns, name)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			jsonToXML(w, ns, k, x[k])
		}
		if name != "" {
			w.End()
		}
	case []any:
		for _, e := range x {
			jsonToXML(w, ns, name, e)
		}
	case nil:
		if name != "" {
			w.Start(ns, name)
			w.End()
		}
	default:
		if name == "" {
			name = "value"
		}
		w.Leaf(ns, name, fmt.Sprint(x))
	}
}
