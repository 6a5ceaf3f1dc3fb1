package datatree

import (
	"encoding/json"
	"testing"

	"github.com/tandem-ha/tandem/northbound/rest/rcpath"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
)

// FuzzBody: request bodies and targets never panic the decoder, Unwrap,
// Replace, Merge or Remove; what Replace stores, Find returns; a fields
// expression either parses or errors.
func FuzzBody(f *testing.F) {
	s := schema.Must()
	for _, seed := range []struct{ path, body, fields string }{
		{"tandem-ha:ha/config", `{"tandem-ha:config": {"mode": "standalone"}}`, "mode"},
		{"tandem-interfaces:interfaces/interface=X1", `{"tandem-interfaces:interface": [{"name": "X1", "config": {"zone": "lan"}}]}`, "config(zone;name)"},
		{"tandem-interfaces:interfaces/interface=X1/config/ipv4-address=1.2.3.4%2F24", `{"ipv4-address": ["1.2.3.4/24"]}`, "a/b(c;d/e)"},
		{"", `{"tandem-ha:ha": {}}`, ";"},
		{"tandem-cluster:cluster/nodes/node=1", `{"tandem-cluster:node": {"id": 2}}`, "(("},
	} {
		f.Add(seed.path, seed.body, seed.fields)
	}
	f.Fuzz(func(t *testing.T, path, body, fields string) {
		_, _ = ParseFields(fields)
		tg, err := rcpath.Parse(s, path)
		if err != nil {
			return
		}
		v, err := Decode([]byte(body))
		if err != nil {
			return
		}
		val, err := Unwrap(tg, v)
		if err != nil {
			return
		}
		doc := Doc{"tandem-ha:ha": map[string]any{"config": map[string]any{"mode": "standalone"}}}
		if err := Replace(doc, tg, val); err != nil {
			return
		}
		got, ok := Find(doc, tg)
		if !ok {
			t.Fatalf("%s: Replace stored nothing Find sees", path)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(val)
		if string(a) != string(b) {
			t.Fatalf("%s: Find %s after Replace %s", path, a, b)
		}
		_ = Merge(s, doc, tg, val)
		_ = Defaults(s, tg.Entry(), got, ReportAllTagged)
		_ = Depth(got, 2)
		if !Remove(doc, tg) && !tg.Root() {
			t.Fatalf("%s: Remove found nothing after Replace", path)
		}
	})
}
