package rcpath

import (
	"errors"
	"testing"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
)

func TestParse(t *testing.T) {
	s := schema.Must()
	for _, c := range []struct {
		raw, model, url, iid string
		config               bool
	}{
		{"", "/", "", "/", true},
		{"tandem-ha:ha", "/ha", "tandem-ha:ha", "/tandem-ha:ha", true},
		{"tandem-ha:ha/devices/device=S1/config/designation", "/ha/devices/device[serial-number=S1]/config/designation",
			"tandem-ha:ha/devices/device=S1/config/designation", "/tandem-ha:ha/devices/device[serial-number='S1']/config/designation", true},
		{"tandem-ha:ha/devices/device=A%2CB%2FC", "/ha/devices/device[serial-number=A,B/C]",
			"tandem-ha:ha/devices/device=A%2CB%2FC", "/tandem-ha:ha/devices/device[serial-number='A,B/C']", true},
		{"tandem-system:system/state/serial-number", "/system/state/serial-number", "tandem-system:system/state/serial-number", "/tandem-system:system/state/serial-number", false},
		{"tandem-interfaces:interfaces/interface=X1/config/ipv4-address=192.0.2.1%2F24", "/interfaces/interface[name=X1]/config/ipv4-address",
			"tandem-interfaces:interfaces/interface=X1/config/ipv4-address=192.0.2.1%2F24", "/tandem-interfaces:interfaces/interface[name='X1']/config/ipv4-address[.='192.0.2.1/24']", true},
		{"tandem-ha:ha/tandem-ha:config/", "/ha/config", "tandem-ha:ha/config", "/tandem-ha:ha/config", true},
	} {
		tg, err := Parse(s, c.raw)
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		if got := tg.ModelPath(); got != c.model {
			t.Errorf("%s: model path %s, want %s", c.raw, got, c.model)
		}
		if got := tg.URL(); got != c.url {
			t.Errorf("%s: URL %s, want %s", c.raw, got, c.url)
		}
		if got := tg.InstanceID(); got != c.iid {
			t.Errorf("%s: instance-identifier %s, want %s", c.raw, got, c.iid)
		}
		if tg.Config() != c.config {
			t.Errorf("%s: config %v", c.raw, tg.Config())
		}
		if c.model != "/" {
			if _, err := model.ParsePath(c.model); err != nil {
				t.Errorf("%s: model.ParsePath: %v", c.model, err)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	s := schema.Must()
	for _, c := range []struct {
		raw      string
		notFound bool
	}{
		{"ha", false},                                 // not qualified
		{"tandem-system:ha", true},                    // wrong module
		{"tandem-ha:nothing", true},                   // unknown
		{"tandem-ha:ha/devices/device/config", false}, // list without key
		{"tandem-ha:ha/devices/device=a,b", false},    // too many keys
		{"tandem-ha:ha/config=x", false},              // container with key
		{"tandem-ha:ha/config/mode/x", true},          // below a leaf
		{"tandem-ha:ha//config", false},
		{"tandem-ha:ha/devices/device=%zz", false},
		{"tandem-ha:ha/tandem-system:config", true},
		{"tandem-operations:commit", true},
		{"tandem-ha:ha/1bad", false},
	} {
		_, err := Parse(s, c.raw)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want *Error", c.raw, err)
			continue
		}
		if pe.NotFound != c.notFound {
			t.Errorf("%s: NotFound %v, want %v (%v)", c.raw, pe.NotFound, c.notFound, err)
		}
	}
}

// FuzzParse: no input panics, and every accepted path renders to a URL
// that parses to the same node.
func FuzzParse(f *testing.F) {
	s := schema.Must()
	for _, seed := range []string{"tandem-ha:ha/devices/device=S1/config/priority", "tandem-ha:ha/devices/device=A%2CB",
		"tandem-interfaces:interfaces/interface=X1/config/ipv4-address=1.2.3.4%2F24", "tandem-cluster:cluster/nodes/node=1", "a:b/c=d,e", "%", "tandem-ha:ha/"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg, err := Parse(s, raw)
		if err != nil {
			return
		}
		again, err := Parse(s, tg.URL())
		if err != nil {
			t.Fatalf("%q -> %q: %v", raw, tg.URL(), err)
		}
		if again.ModelPath() != tg.ModelPath() || again.InstanceID() != tg.InstanceID() {
			t.Fatalf("%q: round trip %s / %s, want %s / %s", raw, again.ModelPath(), again.InstanceID(), tg.ModelPath(), tg.InstanceID())
		}
	})
}
