package model

import (
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the configuration decoder that the
// northbound APIs use: it must never panic, and whatever it accepts must
// encode and decode again to the same configuration.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"tandem-ha:ha": {"config": {"mode": "active-standby", "heartbeat-interval": 200}}}`,
		`{"tandem-interfaces:interfaces": {"interface": [{"name": "X1", "config": {"ipv4-address": ["192.0.2.1/24"]}}]}}`,
		`{"tandem-cluster:cluster": {"virtual-groups": {"virtual-group": [{"id": 2, "config": {"node-rank": [2, 1]}}]}}}`,
		`{"tandem-ha:ha": {"state": {"role": "active"}}}`,
		`{"tandem-ha:ha": {"config": {"mode": 7}}}`,
		`[1, 2`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decode(data)
		if err != nil {
			return
		}
		enc, err := Encode(d)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", data, err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("own encoding %s does not decode: %v", enc, err)
		}
		if !Equal(d, again) {
			t.Fatalf("round trip changed the configuration:\n%s", enc)
		}
	})
}

// FuzzParsePath feeds arbitrary strings to the path parser and to Set:
// neither may panic.
func FuzzParsePath(f *testing.F) {
	for _, seed := range []string{
		"/ha/config/mode",
		"/interfaces/interface[name=X1]/config/enabled",
		"/tandem-ha:ha/links/link[function=control]/config/port",
		"/a[b=c][d=e]/f",
		"/[=]",
		"interfaces",
		`/x[name=a\]b]/y`,
	} {
		f.Add(seed, []byte(`"x"`))
	}
	f.Fuzz(func(t *testing.T, path string, value []byte) {
		if _, err := ParsePath(path); err != nil {
			return
		}
		_ = Set(Default(), path, value)
	})
}
