package gnmi

import (
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/northbound/service"
)

// FuzzPathPattern feeds request paths (prefix and path) to the pattern
// checker: it never panics, refuses with INVALID_ARGUMENT or NOT_FOUND,
// and an accepted path without wildcards matches itself exactly.
func FuzzPathPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"", "/ha/state/role"},
		{"/interfaces", "/interface[name=*]/config"},
		{"", "/.../role"},
		{"", "/*/interface/state/oper-status"},
		{"/ha/devices", "/device[serial-number=S1]/state"},
		{"", "/tandem-ha:ha/config[x=y]"},
		{"", "/system/events/event[sequence=1][x=2]/state"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, prefix, path string) {
		pp, err1 := ygot.StringToStructuredPath(prefix)
		p, err2 := ygot.StringToStructuredPath(path)
		if err1 != nil || err2 != nil {
			return
		}
		pat, err := newPattern(pp, p)
		if err != nil {
			if c := status.Code(err); c != codes.InvalidArgument && c != codes.NotFound {
				t.Fatalf("%q %q: code %v: %v", prefix, path, c, err)
			}
			return
		}
		_ = pat.query()
		if !pat.wild {
			if n, ok := pat.matchLen(pat.elems); !ok || n != len(pat.elems) {
				t.Fatalf("%q %q does not match itself (%d, %v)", prefix, path, n, ok)
			}
		}
	})
}

// FuzzSetRequest feeds SetRequests (protobuf) to the planner and applies
// the accepted ones to the default configuration: nothing panics, and
// every refusal is INVALID_ARGUMENT or NOT_FOUND (plan) or an invalid
// input (apply).
func FuzzSetRequest(f *testing.F) {
	mustPath := func(s string) *gpb.Path {
		p, err := model.ParsePath(s)
		if err != nil {
			f.Fatal(err)
		}
		return p
	}
	js := func(s string) *gpb.TypedValue {
		return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(s)}}
	}
	for _, req := range []*gpb.SetRequest{
		{Update: []*gpb.Update{{Path: mustPath("/ha/config/preempt"), Val: js("true")}}},
		{Replace: []*gpb.Update{{Path: mustPath("/interfaces/interface[name=X0]"), Val: js(`{"config": {"zone": "lan"}}`)}}},
		{Delete: []*gpb.Path{mustPath("/interfaces/interface[name=*]/config/zone")}},
		{UnionReplace: []*gpb.Update{{Path: &gpb.Path{}, Val: js(`{"tandem-ha:ha": {"config": {"mode": "standalone"}}}`)}}},
		{Update: []*gpb.Update{{Path: mustPath("/ha/config/heartbeat-interval"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: 100}}}}},
		{Update: []*gpb.Update{{Path: mustPath("/ha/config/heartbeat-interval"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "x"}}}}},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req gpb.SetRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		ops, err := planSet(&req)
		if err != nil {
			if c := status.Code(err); c != codes.InvalidArgument && c != codes.NotFound {
				t.Fatalf("plan: code %v: %v", c, err)
			}
			return
		}
		d := model.Default()
		replaced := map[string]bool{}
		for _, op := range ops {
			if err := op.apply(d, replaced); err != nil {
				if k := service.KindOf(err); k != service.KindInvalid {
					t.Fatalf("apply: kind %v: %v", k, err)
				}
				return
			}
		}
	})
}

// FuzzSubscriptionList feeds SubscriptionLists (protobuf) to the
// subscription checker: nothing panics, every refusal is a gRPC status.
func FuzzSubscriptionList(f *testing.F) {
	for _, l := range []*gpb.SubscriptionList{
		{Mode: gpb.SubscriptionList_STREAM, Subscription: []*gpb.Subscription{{Path: &gpb.Path{Elem: []*gpb.PathElem{{Name: "ha"}}}, Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: 1e9, HeartbeatInterval: 5e9}}},
		{Mode: gpb.SubscriptionList_POLL, Prefix: &gpb.Path{Target: "T"}, Subscription: []*gpb.Subscription{{Path: &gpb.Path{Elem: []*gpb.PathElem{{Name: "*"}}}}}},
	} {
		b, err := proto.Marshal(l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s := &gnmiService{tree: source{target: "T"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var l gpb.SubscriptionList
		if proto.Unmarshal(b, &l) != nil {
			return
		}
		if _, err := s.newSession(nil, &l); err != nil {
			if _, ok := status.FromError(err); !ok {
				t.Fatalf("not a gRPC status: %v", err)
			}
		}
	})
}
