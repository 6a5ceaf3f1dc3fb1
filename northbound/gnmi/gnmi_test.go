package gnmi_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/tandem-ha/tandem/core/model"
)

// Capabilities lists every module of yang/ that holds data (and the types
// module), with the revision and organization the files declare, and
// the three encodings.
func TestCapabilitiesMatchYANG(t *testing.T) {
	u := startUnit(t)
	resp, err := u.client(t, "rita").Capabilities(ctx(t), &gpb.CapabilityRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetGNMIVersion() == "" {
		t.Error("no gNMI version")
	}
	if want := []gpb.Encoding{gpb.Encoding_JSON_IETF, gpb.Encoding_JSON, gpb.Encoding_PROTO}; !slices.Equal(resp.GetSupportedEncodings(), want) {
		t.Errorf("encodings %v, want %v", resp.GetSupportedEncodings(), want)
	}
	got := map[string]*gpb.ModelData{}
	for _, m := range resp.GetSupportedModels() {
		got[m.GetName()] = m
	}
	// Every module whose nodes are in the schema is announced.
	for _, e := range model.Root().Dir {
		mod := strings.Split(e.Annotation["schemapath"].(string), "/")[1]
		if got[mod] == nil {
			t.Errorf("module %s has data nodes but is not in Capabilities", mod)
		}
	}
	// And with the revision and organization of its file.
	ms := yang.NewModules()
	ms.AddPath(filepath.Join("..", "..", "yang"), filepath.Join("..", "..", "yang", "ietf"))
	for name := range got {
		if err := ms.Read(filepath.Join("..", "..", "yang", name+".yang")); err != nil {
			t.Errorf("model %s: %v", name, err)
			continue
		}
	}
	if errs := ms.Process(); len(errs) > 0 {
		t.Fatalf("yang: %v", errs)
	}
	for name, m := range got {
		mod, ok := ms.Modules[name]
		if !ok {
			t.Errorf("Capabilities lists %s, which yang/ does not have", name)
			continue
		}
		if rev := mod.Current(); m.GetVersion() != rev {
			t.Errorf("%s: version %q, the file's latest revision is %q", name, m.GetVersion(), rev)
		}
		if org := mod.Organization.Name; m.GetOrganization() != org {
			t.Errorf("%s: organization %q, the file says %q", name, m.GetOrganization(), org)
		}
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "yang", "tandem-*.yang"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yang")
		if got[name] == nil && name != "tandem-operations" {
			t.Errorf("yang/%s.yang is not in Capabilities", name)
		}
	}
	if _, err := os.Stat(filepath.Join("..", "..", "yang", "tandem-operations.yang")); err == nil && got["tandem-operations"] != nil {
		t.Error("Capabilities lists tandem-operations, whose rpcs gNMI does not serve")
	}
}

// Every RPC needs credentials: none, a wrong password or a wrong token
// are UNAUTHENTICATED; a bearer token works; five failures from one
// address block it (RESOURCE_EXHAUSTED).
func TestAuthentication(t *testing.T) {
	u := startUnit(t)
	_, err := u.client(t, "").Capabilities(ctx(t), &gpb.CapabilityRequest{})
	wantCode(t, err, codes.Unauthenticated, "username and password")

	c := u.client(t, "alice")
	if _, err := c.Capabilities(ctx(t), &gpb.CapabilityRequest{}); err != nil {
		t.Fatalf("alice: %v", err)
	}
	// alice makes herself a token through gNMI Set.
	tok, hash := newToken(t)
	_, err = c.Set(ctx(t), &gpb.SetRequest{Update: []*gpb.Update{{
		Path: path(t, "/system/users/user[name=alice]/config/token-hash"), Val: jsonIETF(`["` + hash + `"]`),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	u.reconfigureAuth(t)
	if _, err := u.tokenClient(t, tok).Capabilities(ctx(t), &gpb.CapabilityRequest{}); err != nil {
		t.Errorf("bearer token: %v", err)
	}
	_, err = u.tokenClient(t, "wrong-token").Capabilities(ctx(t), &gpb.CapabilityRequest{})
	wantCode(t, err, codes.Unauthenticated)

	bad := u.clientWith(t, creds{"alice", "wrong"})
	for i := 0; i < 4; i++ {
		_, err = bad.Capabilities(ctx(t), &gpb.CapabilityRequest{})
		wantCode(t, err, codes.Unauthenticated, "authentication failed")
	}
	_, err = c.Capabilities(ctx(t), &gpb.CapabilityRequest{})
	wantCode(t, err, codes.ResourceExhausted, "too many failed logins")
}

// getOne runs a Get and returns its notification's updates.
func getOne(t *testing.T, c gpb.GNMIClient, req *gpb.GetRequest) []*gpb.Update {
	t.Helper()
	resp, err := c.Get(ctx(t), req)
	if err != nil {
		t.Fatalf("Get %v: %v", prototext.Format(req), err)
	}
	if len(resp.GetNotification()) != 1 {
		t.Fatalf("Get: %d notifications, want 1", len(resp.GetNotification()))
	}
	return resp.GetNotification()[0].GetUpdate()
}

// updatesByPath indexes updates by their path string.
func updatesByPath(us []*gpb.Update) map[string]*gpb.TypedValue {
	out := map[string]*gpb.TypedValue{}
	for _, u := range us {
		out[pathString(u.GetPath())] = u.GetVal()
	}
	return out
}

func pathString(p *gpb.Path) string {
	var b strings.Builder
	for _, e := range p.GetElem() {
		b.WriteString("/" + e.GetName())
		keys := make([]string, 0, len(e.GetKey()))
		for k := range e.GetKey() {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteString("[" + k + "=" + e.GetKey()[k] + "]")
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// Get on a configuration path reads the running configuration as RFC 7951
// JSON (module-qualified at the top), without secrets; on a state path
// the state tree. The type selects the source.
func TestGetConfigAndState(t *testing.T) {
	u := startUnit(t)
	c := u.client(t, "rita")

	us := getOne(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha/config")}, Type: gpb.GetRequest_CONFIG, Encoding: gpb.Encoding_JSON_IETF})
	if len(us) != 1 || pathString(us[0].GetPath()) != "/ha/config" {
		t.Fatalf("updates %v", us)
	}
	var cfg map[string]any
	if err := json.Unmarshal(us[0].GetVal().GetJsonIetfVal(), &cfg); err != nil {
		t.Fatal(err)
	}
	if mode := cfg["tandem-ha:mode"]; mode != "standalone" {
		t.Errorf("/ha/config: %s", us[0].GetVal().GetJsonIetfVal())
	}
	// JSON (not IETF): the same tree without module names.
	us = getOne(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha/config")}, Type: gpb.GetRequest_CONFIG, Encoding: gpb.Encoding_JSON})
	if v := string(us[0].GetVal().GetJsonVal()); len(us) != 1 || !strings.Contains(v, `"mode":"standalone"`) {
		t.Errorf("/ha/config as JSON: %v", us)
	}
	// Secrets never leave the unit.
	resp, err := c.Get(ctx(t), &gpb.GetRequest{Encoding: gpb.Encoding_JSON_IETF})
	if err != nil {
		t.Fatal(err)
	}
	if all := prototext.Format(resp); strings.Contains(all, Secret) || strings.Contains(all, "pre-shared-key") || strings.Contains(all, "password-hash") || strings.Contains(all, "argon2") {
		t.Errorf("a secret in Get /:\n%s", all)
	}
	_, err = c.Get(ctx(t), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha/config/pre-shared-key")}, Type: gpb.GetRequest_CONFIG})
	wantCode(t, err, codes.NotFound, "/ha/config/pre-shared-key")

	// A state leaf, PROTO: a scalar of the leaf's type.
	us = getOne(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha/state/quality")}, Encoding: gpb.Encoding_PROTO})
	if len(us) != 1 || us[0].GetVal().GetUintVal() != 100 {
		t.Errorf("quality: %v", us)
	}
	// JSON_IETF of a leaf is its RFC 7951 value.
	us = getOne(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha/state/role")}, Encoding: gpb.Encoding_JSON_IETF})
	if len(us) != 1 || string(us[0].GetVal().GetJsonIetfVal()) != `"standalone"` {
		t.Errorf("role: %v", us)
	}

	// The data types of interface X0: its config leaves, its state
	// leaves, and of those the operational ones (not the applied config).
	x0 := []*gpb.Path{path(t, "/interfaces/interface[name=X0]")}
	leaves := func(typ gpb.GetRequest_DataType) []string {
		var out []string
		for p := range updatesByPath(getOne(t, c, &gpb.GetRequest{Path: x0, Type: typ, Encoding: gpb.Encoding_PROTO})) {
			out = append(out, p)
		}
		slices.Sort(out)
		return out
	}
	const (
		cfgZone  = "/interfaces/interface[name=X0]/config/zone"
		stZone   = "/interfaces/interface[name=X0]/state/zone"
		stStatus = "/interfaces/interface[name=X0]/state/oper-status"
	)
	for _, tc := range []struct {
		typ       gpb.GetRequest_DataType
		has, hasn []string
	}{
		{gpb.GetRequest_CONFIG, []string{cfgZone}, []string{stZone, stStatus}},
		{gpb.GetRequest_STATE, []string{stZone, stStatus}, []string{cfgZone}},
		{gpb.GetRequest_OPERATIONAL, []string{stStatus}, []string{cfgZone, stZone}},
		{gpb.GetRequest_ALL, []string{cfgZone, stZone, stStatus}, nil},
	} {
		got := leaves(tc.typ)
		for _, p := range tc.has {
			if !slices.Contains(got, p) {
				t.Errorf("type %v: %s missing from %v", tc.typ, p, got)
			}
		}
		for _, p := range tc.hasn {
			if slices.Contains(got, p) {
				t.Errorf("type %v: %s present in %v", tc.typ, p, got)
			}
		}
	}
	// ALL in JSON_IETF merges both into one tree.
	us = getOne(t, c, &gpb.GetRequest{Path: x0, Encoding: gpb.Encoding_JSON_IETF})
	if v := string(us[0].GetVal().GetJsonIetfVal()); len(us) != 1 || !strings.Contains(v, `"oper-status":"up"`) || !strings.Contains(v, `"192.0.2.1/24"`) {
		t.Errorf("X0, ALL: %v", us)
	}
}

// Wildcards in names and keys, the "..." of any depth, and list elements
// without keys, against the prefix; each match is one update.
func TestGetWildcardsAndPrefix(t *testing.T) {
	u := startUnit(t)
	c := u.client(t, "rita")
	zones := "/interfaces/interface[name=X0]/config/zone /interfaces/interface[name=X1]/config/zone"
	for _, tc := range []struct {
		prefix, path string
		want         string
	}{
		{"", "/interfaces/interface[name=*]/config/zone", zones},
		{"", "/interfaces/interface/config/zone", zones},
		{"/interfaces", "/interface/config/zone", zones},
		{"", "/interfaces/*/config/zone", zones},
		{"", "/*/interface[name=X1]/*/zone", "/interfaces/interface[name=X1]/config/zone"},
		{"", "/interfaces/.../zone", "/interfaces/interface[name=X0]/config/zone /interfaces/interface[name=X0]/state/zone /interfaces/interface[name=X1]/config/zone"},
		{"", "/tandem-interfaces:interfaces/interface[name=X1]/config/zone", "/interfaces/interface[name=X1]/config/zone"},
	} {
		req := &gpb.GetRequest{Path: []*gpb.Path{path(t, tc.path)}, Encoding: gpb.Encoding_JSON_IETF}
		if tc.prefix != "" {
			req.Prefix = path(t, tc.prefix)
		}
		var got []string
		for p := range updatesByPath(getOne(t, c, req)) {
			got = append(got, p)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("prefix %q path %q: %v, want %s", tc.prefix, tc.path, got, tc.want)
		}
	}
	// A list without keys in JSON_IETF: one update per entry.
	us := getOne(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/interfaces/interface")}, Type: gpb.GetRequest_CONFIG, Encoding: gpb.Encoding_JSON_IETF})
	if len(us) != 2 || !strings.Contains(string(us[1].GetVal().GetJsonIetfVal()), `"wan"`) {
		t.Errorf("interfaces: %v", us)
	}
	// A wildcard that matches nothing is an empty answer, not an error.
	if us := getOne(t, c, &gpb.GetRequest{Path: []*gpb.Path{path(t, "/interfaces/interface[name=*]/state/mac-address")}}); len(us) != 0 {
		t.Errorf("mac-address: %v", us)
	}
}

// The target is this unit: none, its serial number or its configured
// name; any other is NOT_FOUND. Unknown paths are NOT_FOUND, bad keys
// INVALID_ARGUMENT, unsupported encodings UNIMPLEMENTED.
func TestGetTargetAndErrors(t *testing.T) {
	u := startUnit(t)
	c := u.client(t, "rita")
	for _, target := range []string{"", Serial, Alias} {
		req := &gpb.GetRequest{Prefix: &gpb.Path{Target: target}, Path: []*gpb.Path{path(t, "/ha/state/role")}}
		resp, err := c.Get(ctx(t), req)
		if err != nil {
			t.Errorf("target %q: %v", target, err)
			continue
		}
		if got := resp.GetNotification()[0].GetPrefix().GetTarget(); got != target {
			t.Errorf("target %q echoed as %q", target, got)
		}
	}
	_, err := c.Get(ctx(t), &gpb.GetRequest{Prefix: &gpb.Path{Target: "other-unit"}, Path: []*gpb.Path{path(t, "/ha")}})
	wantCode(t, err, codes.NotFound, `"other-unit"`, Serial, Alias)

	_, err = c.Get(ctx(t), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha/nonsense")}})
	wantCode(t, err, codes.NotFound, `"nonsense"`, "/ha")
	_, err = c.Get(ctx(t), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha/config[name=x]")}})
	wantCode(t, err, codes.InvalidArgument, `"config" is not a list`)
	_, err = c.Get(ctx(t), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/interfaces/interface[port=X0]")}})
	wantCode(t, err, codes.InvalidArgument, `no key "port"`, "name")
	_, err = c.Get(ctx(t), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/ha")}, Encoding: gpb.Encoding_ASCII})
	wantCode(t, err, codes.Unimplemented, "ASCII", "JSON_IETF")
	_, err = c.Get(ctx(t), &gpb.GetRequest{Path: []*gpb.Path{{Origin: "openconfig", Elem: path(t, "/ha").GetElem()}}})
	wantCode(t, err, codes.InvalidArgument, `origin "openconfig"`)
	_, err = c.Get(ctx(t), &gpb.GetRequest{Path: []*gpb.Path{path(t, "/interfaces/interface[name=X7]")}})
	wantCode(t, err, codes.NotFound, "X7")
}
