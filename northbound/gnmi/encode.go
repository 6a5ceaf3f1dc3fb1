package gnmi

import (
	"encoding/json"
	"fmt"
	"strconv"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// checkEncoding refuses the encodings tandem does not serve.
func checkEncoding(enc gpb.Encoding) error {
	switch enc {
	case gpb.Encoding_JSON, gpb.Encoding_JSON_IETF, gpb.Encoding_PROTO:
		return nil
	}
	return unimplementedf("encoding %s is not supported; use JSON_IETF, JSON or PROTO", enc)
}

// leafValue encodes one leaf's value: as is (a scalar TypedValue) for
// PROTO, as its JSON for JSON and JSON_IETF (RFC 7951: 64-bit integers
// and decimal64 as strings).
func leafValue(elems []*gpb.PathElem, tv *gpb.TypedValue, enc gpb.Encoding) (*gpb.TypedValue, error) {
	if enc == gpb.Encoding_PROTO {
		return tv, nil
	}
	kind := yang.Ynone
	if e := schemaEntry(elems); e != nil {
		if t, err := util.ResolveIfLeafRef(e); err == nil && t != nil && t.Type != nil {
			kind = t.Type.Kind
		}
	}
	ietf := enc == gpb.Encoding_JSON_IETF
	b, err := json.Marshal(scalarJSON(kind, tv, ietf))
	if err != nil {
		return nil, fmt.Errorf("%s: encode value: %w", pathKey(elems), err)
	}
	if ietf {
		return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: b}}, nil
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: b}}, nil
}

// scalarJSON is the JSON form of a scalar or leaf-list value of a leaf of
// YANG type kind.
func scalarJSON(kind yang.TypeKind, tv *gpb.TypedValue, ietf bool) any {
	switch v := tv.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		return v.StringVal
	case *gpb.TypedValue_BoolVal:
		if kind == yang.Yempty && ietf {
			return []any{nil}
		}
		return v.BoolVal
	case *gpb.TypedValue_IntVal:
		if ietf && kind != yang.Yint8 && kind != yang.Yint16 && kind != yang.Yint32 {
			return strconv.FormatInt(v.IntVal, 10)
		}
		return v.IntVal
	case *gpb.TypedValue_UintVal:
		if ietf && kind != yang.Yuint8 && kind != yang.Yuint16 && kind != yang.Yuint32 {
			return strconv.FormatUint(v.UintVal, 10)
		}
		return v.UintVal
	case *gpb.TypedValue_DoubleVal:
		if ietf && kind == yang.Ydecimal64 {
			return strconv.FormatFloat(v.DoubleVal, 'f', -1, 64)
		}
		return v.DoubleVal
	case *gpb.TypedValue_BytesVal:
		return v.BytesVal
	case *gpb.TypedValue_LeaflistVal:
		out := make([]any, 0, len(v.LeaflistVal.GetElement()))
		for _, el := range v.LeaflistVal.GetElement() {
			out = append(out, scalarJSON(kind, el, ietf))
		}
		return out
	case *gpb.TypedValue_JsonIetfVal:
		return json.RawMessage(v.JsonIetfVal)
	case *gpb.TypedValue_JsonVal:
		return json.RawMessage(v.JsonVal)
	}
	return nil
}

// subtreeJSON renders the leaves under root (all of them are) as the
// JSON of the node at root: RFC 7951 with module-qualified names for
// JSON_IETF, ygot's internal JSON for JSON.
func subtreeJSON(leaves []leaf, root []*gpb.PathElem, enc gpb.Encoding) (*gpb.TypedValue, error) {
	d := &tandem.Device{}
	for _, l := range leaves {
		if err := ytypes.SetNode(model.Root(), d, &gpb.Path{Elem: l.elems}, l.val, &ytypes.InitMissingElements{}); err != nil {
			return nil, fmt.Errorf("%s: render: %w", pathKey(l.elems), err)
		}
	}
	var node ygot.GoStruct = d
	if len(root) > 0 {
		nodes, err := ytypes.GetNode(model.Root(), d, &gpb.Path{Elem: root})
		if err != nil || len(nodes) != 1 {
			return nil, fmt.Errorf("%s: render: node not found (%v)", pathKey(root), err)
		}
		s, ok := nodes[0].Data.(ygot.GoStruct)
		if !ok {
			return nil, fmt.Errorf("%s: render: %T is not a container or list entry", pathKey(root), nodes[0].Data)
		}
		node = s
	}
	var (
		tree map[string]any
		err  error
	)
	if enc == gpb.Encoding_JSON_IETF {
		tree, err = ygot.ConstructIETFJSON(node, &ygot.RFC7951JSONConfig{AppendModuleName: true})
	} else {
		tree, err = ygot.ConstructInternalJSON(node)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: render: %w", pathKey(root), err)
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("%s: render: %w", pathKey(root), err)
	}
	if enc == gpb.Encoding_JSON_IETF {
		return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: b}}, nil
	}
	return &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: b}}, nil
}
