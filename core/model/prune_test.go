package model

import (
	"strings"
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// withState returns a configuration that also carries state leaves at
// every depth: containers, lists, config-false lists and leaf-lists.
func withState(t *testing.T) *tandem.Device {
	t.Helper()
	d := Default()
	for path, val := range map[string]string{
		"/ha/config/mode": `"active-standby"`,
		"/interfaces/interface[name=X0]/config/ipv4-address":                               `["192.0.2.1/24"]`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/config/probe-address":              `"192.0.2.254"`,
		"/cluster/nodes/node[id=1]/monitoring/interfaces/interface[name=X1]/config/weight": `7`,
	} {
		if err := Set(d, path, []byte(val)); err != nil {
			t.Fatal(path, err)
		}
	}
	for path, val := range map[string]string{
		"/ha/state/role":    `"active"`,
		"/ha/state/quality": `80`,
		"/interfaces/interface[name=X0]/state/oper-status":                                  `"up"`,
		"/monitoring/interfaces/interface[name=X0]/state/link-up":                           `true`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/state/probe-address":                `"192.0.2.254"`,
		"/cluster/nodes/node[id=1]/state/owned-virtual-group":                               `[1, 2]`,
		"/cluster/nodes/node[id=1]/monitoring/interfaces/interface[name=X1]/state/probe-ok": `false`,
		"/system/plugins/plugin[name=lab]/state/status":                                     `"running"`,
		"/system/events/event[sequence=4]/state/message":                                    `"hello"`,
		"/licensing/features/feature[feature=aa-dpi]/state/licensed":                        `true`,
	} {
		p, err := ParsePath(path)
		if err != nil {
			t.Fatal(err)
		}
		tv := &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(val)}}
		if err := ytypes.SetNode(Root(), d, p, tv, &ytypes.InitMissingElements{}); err != nil {
			t.Fatal(path, err)
		}
	}
	return d
}

// The cached pruner removes exactly what ygot's schema walk removes.
func TestPruneMatchesYgot(t *testing.T) {
	ours, theirs := withState(t), withState(t)
	if len(StatePaths(ours)) == 0 {
		t.Fatal("fixture carries no state")
	}
	pruneConfigFalse(ours)
	if err := ygot.PruneConfigFalse(Root(), theirs); err != nil {
		t.Fatal(err)
	}
	a, err := encode(ours)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encode(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Fatalf("pruned trees differ:\nours:\n%s\nygot:\n%s", a, b)
	}
	if len(StatePaths(ours)) != 0 {
		t.Errorf("state left after pruning: %v", StatePaths(ours))
	}
}

// Decode refuses state in a configuration and names where it is.
func TestDecodeRefusesState(t *testing.T) {
	raw, err := EncodeAll(withState(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(raw); err == nil {
		t.Fatal("configuration with state decoded")
	} else if want := "/ha/state,"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}
