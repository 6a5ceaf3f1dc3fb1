package gnmi_test

import (
	"slices"
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"

	"github.com/tandem-ha/tandem/core/model"
)

// runningJSON is the running configuration as RFC 7951 JSON.
func (u *unit) runningJSON(t *testing.T) string {
	t.Helper()
	d, _ := u.store.Running()
	b, err := model.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (u *unit) revision() uint64 {
	_, info := u.store.Running()
	return info.ID
}

func scalar(s string) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: s}}
}

// One SetRequest with a delete, a replace, updates (JSON_IETF, JSON and a
// scalar) and union_replaces becomes one revision by the caller through
// gnmi, with one UpdateResult per operation in request order.
func TestSetOneTransaction(t *testing.T) {
	u := startUnit(t)
	c := u.client(t, "alice")
	before := u.revision()
	req := &gpb.SetRequest{
		Delete: []*gpb.Path{path(t, "/interfaces/interface[name=X1]")},
		Replace: []*gpb.Update{{
			Path: path(t, "/interfaces/interface[name=X0]/config"),
			Val:  jsonIETF(`{"name": "X0", "zone": "dmz", "description": "replaced"}`),
		}},
		Update: []*gpb.Update{
			{Path: path(t, "/interfaces/interface[name=X2]"), Val: jsonIETF(`{"config": {"zone": "lan", "ipv4-address": ["203.0.113.1/24"]}}`)},
			{Path: path(t, "/ha/config/preempt"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_JsonVal{JsonVal: []byte("true")}}},
			{Path: path(t, "/interfaces/interface[name=X2]/config/description"), Val: scalar("scalar value")},
		},
		UnionReplace: []*gpb.Update{
			{Path: path(t, "/interfaces/interface[name=X3]/config"), Val: jsonIETF(`{"zone": "wan"}`)},
			{Path: path(t, "/interfaces/interface[name=X3]/config"), Val: jsonIETF(`{"description": "union"}`)},
		},
	}
	resp, err := c.Set(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range resp.GetResponse() {
		ops = append(ops, r.GetOp().String()+" "+pathString(r.GetPath()))
	}
	want := []string{
		"DELETE /interfaces/interface[name=X1]",
		"REPLACE /interfaces/interface[name=X0]/config",
		"UPDATE /interfaces/interface[name=X2]",
		"UPDATE /ha/config/preempt",
		"UPDATE /interfaces/interface[name=X2]/config/description",
		"UNION_REPLACE /interfaces/interface[name=X3]/config",
		"UNION_REPLACE /interfaces/interface[name=X3]/config",
	}
	if !slices.Equal(ops, want) {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	if got := u.revision(); got != before+1 {
		t.Errorf("revision %d after Set, want exactly one more than %d", got, before)
	}
	h := u.store.History(1)[0]
	if h.Author != "alice" || h.Origin != "gnmi" {
		t.Errorf("revision by %q through %q, want alice through gnmi", h.Author, h.Origin)
	}
	cfg := u.runningJSON(t)
	for _, s := range []string{`"zone": "dmz"`, `"description": "replaced"`, `"203.0.113.1/24"`, `"preempt": true`, `"scalar value"`, `"description": "union"`} {
		if !strings.Contains(cfg, s) {
			t.Errorf("running lacks %s:\n%s", s, cfg)
		}
	}
	for _, s := range []string{`"X1"`, `"198.51.100.1/24"`} {
		if strings.Contains(cfg, s) {
			t.Errorf("running still has %s after the delete:\n%s", s, cfg)
		}
	}
	// The replaced X0 config lost its address; union_replace of X3 kept
	// both values given for the path.
	if strings.Contains(cfg, `"192.0.2.1/24"`) || !strings.Contains(cfg, `"zone": "wan"`) {
		t.Errorf("replace/union_replace:\n%s", cfg)
	}
	// A Get right after the Set sees it.
	us := getOne(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/interfaces/interface[name=X2]/config/description")}, Encoding: gpb.Encoding_JSON_IETF})
	if len(us) != 1 || string(us[0].GetVal().GetJsonIetfVal()) != `"scalar value"` {
		t.Errorf("Get after Set: %v", us)
	}
}

// A request with one bad operation changes nothing: the good ones before
// it are not half-applied, and the error names the path and the reason.
// Validation failures (SPEC rules) are INVALID_ARGUMENT too.
func TestSetAllOrNothing(t *testing.T) {
	u := startUnit(t)
	c := u.client(t, "alice")
	before, cfg := u.revision(), u.runningJSON(t)
	for _, tc := range []struct {
		name  string
		req   *gpb.SetRequest
		parts []string
	}{
		{"bad enum", &gpb.SetRequest{Update: []*gpb.Update{
			{Path: path(t, "/ha/config/preempt"), Val: jsonIETF("true")},
			{Path: path(t, "/interfaces/interface[name=X0]/config/zone"), Val: jsonIETF(`"nowhere"`)},
		}}, []string{"/interfaces/interface[name=X0]/config/zone", "nowhere"}},
		{"out of range", &gpb.SetRequest{Update: []*gpb.Update{
			{Path: path(t, "/ha/config/preempt"), Val: jsonIETF("true")},
			{Path: path(t, "/ha/config/heartbeat-interval"), Val: jsonIETF("1")},
		}}, []string{"heartbeat-interval"}},
		{"state in the value", &gpb.SetRequest{Update: []*gpb.Update{
			{Path: path(t, "/ha"), Val: jsonIETF(`{"config": {"preempt": true}, "state": {"role": "active"}}`)},
		}}, []string{"/ha/state", "config false"}},
		{"state path", &gpb.SetRequest{Update: []*gpb.Update{
			{Path: path(t, "/ha/state/role"), Val: jsonIETF(`"active"`)},
		}}, []string{"/ha/state/role", "config false"}},
		{"unknown member", &gpb.SetRequest{Update: []*gpb.Update{
			{Path: path(t, "/ha/config"), Val: jsonIETF(`{"no-such-leaf": 1}`)},
		}}, []string{"/ha/config", "no-such-leaf"}},
		{"wildcard update", &gpb.SetRequest{Update: []*gpb.Update{
			{Path: path(t, "/interfaces/interface[name=*]/config/zone"), Val: jsonIETF(`"lan"`)},
		}}, []string{"wildcards", "delete"}},
		{"no value", &gpb.SetRequest{Update: []*gpb.Update{
			{Path: path(t, "/ha/config/preempt")},
		}}, []string{"/ha/config/preempt", "no value"}},
		{"scalar for a container", &gpb.SetRequest{Update: []*gpb.Update{
			{Path: path(t, "/ha/config"), Val: scalar("x")},
		}}, []string{"/ha/config", "not a leaf"}},
		{"delete of a key mirror", &gpb.SetRequest{
			Update: []*gpb.Update{{Path: path(t, "/ha/config/preempt"), Val: jsonIETF("true")}},
			Delete: []*gpb.Path{path(t, "/interfaces/interface[name=X0]/config/name")},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Set(ctx(t), tc.req)
			if tc.parts == nil {
				// Whatever the reason, it must be refused as a whole.
				if err == nil {
					return
				}
			}
			wantCode(t, err, codes.InvalidArgument, tc.parts...)
			if u.revision() != before || u.runningJSON(t) != cfg {
				t.Errorf("running changed by a refused Set")
			}
		})
	}
}

// SPEC: CFG-1
// A standby refuses gNMI Set with PERMISSION_DENIED and the reason (which
// names the active); so does a user role without the configure
// permission. Neither changes anything.
func TestSetRefusedOnStandbyAndByRole(t *testing.T) {
	u := startUnit(t)
	before := u.revision()
	req := &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, "/ha/config/preempt"), Val: jsonIETF("true")}}}
	for _, user := range []string{"olga", "rita"} {
		_, err := u.client(t, user).Set(ctx(t), req)
		wantCode(t, err, codes.PermissionDenied, user, "configure")
	}
	u.standby.Store(true)
	_, err := u.client(t, "alice").Set(ctx(t), req)
	wantCode(t, err, codes.PermissionDenied, "standby", "PEER-1", "CFG-1")
	if u.revision() != before {
		t.Error("a refused Set made a revision")
	}
	// Reads still work on a standby.
	if _, err := u.client(t, "rita").Get(ctx(t), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha/config/mode")}}); err != nil {
		t.Errorf("Get on standby: %v", err)
	}
	u.standby.Store(false)
	if _, err := u.client(t, "alice").Set(ctx(t), req); err != nil {
		t.Errorf("Set once active again: %v", err)
	}
}

// Deletes take wildcards; deleting what is not there is no error; replace
// at the root replaces the whole configuration.
func TestSetDeleteWildcardAndRootReplace(t *testing.T) {
	u := startUnit(t)
	c := u.client(t, "alice")
	_, err := c.Set(ctx(t), &gpb.SetRequest{Delete: []*gpb.Path{
		path(t, "/interfaces/interface[name=*]/config/ipv4-address"),
		path(t, "/interfaces/interface[name=X9]"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := u.runningJSON(t); strings.Contains(cfg, "ipv4-address") || !strings.Contains(cfg, `"zone": "wan"`) {
		t.Errorf("after wildcard delete:\n%s", cfg)
	}
	root := `{"tandem-ha:ha": {"config": {"mode": "standalone"}}, "tandem-platform:platform": {"config": {"model": "lab"}},
	  "tandem-system:system": {"users": {"user": [{"name": "alice", "config": {"name": "alice", "role": "admin"}}]}}}`
	if _, err := c.Set(ctx(t), &gpb.SetRequest{Replace: []*gpb.Update{{Path: &gpb.Path{}, Val: jsonIETF(root)}}}); err != nil {
		t.Fatal(err)
	}
	if cfg := u.runningJSON(t); strings.Contains(cfg, "interface") || !strings.Contains(cfg, `"alice"`) {
		t.Errorf("after root replace:\n%s", cfg)
	}
}
