package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// A canonical configuration is a fixed point: encoding its device again
// gives the same bytes, so byte comparison is configuration equality.
func TestCanonicalIsFixedPoint(t *testing.T) {
	withState := model.Default()
	withState.GetOrCreateHa().GetOrCreateState().HeartbeatInterval = ptr(uint32(999))
	for name, d := range map[string]*tandem.Device{
		"default":     model.Default(),
		"empty":       {},
		"crash gen 7": genConfig(7),
		"key only": func() *tandem.Device {
			d := model.Default()
			d.GetOrCreateInterfaces().GetOrCreateInterface("X3") // config/name not mirrored yet
			return d
		}(),
		"state dropped": withState,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := canonical(d)
			if err != nil {
				t.Fatal(err)
			}
			again, err := canonical(c.dev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.json, again.json) {
				t.Fatalf("not a fixed point:\n%s\n%s", c.json, again.json)
			}
			if !sameConfig(c.dev, d) {
				t.Fatal("canonical form changed the configuration")
			}
			if bytes.Contains(c.json, []byte("state")) {
				t.Fatalf("state kept: %s", c.json)
			}
		})
	}
}

func validRecord(t testing.TB) []byte {
	c, err := canonical(genConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeRecord(RevisionInfo{ID: 42, Time: time.Date(2026, 11, 21, 1, 2, 3, 4, time.UTC), Author: "a", Comment: "c", Origin: OriginCLI, Warnings: []string{"w"}, PendingConfirm: true}, c.json)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRecord(t *testing.T) {
	good := validRecord(t)
	info, c, err := decodeRecord(good)
	if err != nil || info.ID != 42 || info.Author != "a" || info.PendingConfirm || len(info.Warnings) != 1 || !sameConfig(c.dev, genConfig(3)) {
		t.Fatalf("decodeRecord(valid) = %+v, %v", info, err)
	}
	for name, b := range map[string]string{
		"not json":      "nope",
		"empty":         "",
		"wrong version": `{"v":2,"info":{"id":1},"config":{}}`,
		"id zero":       `{"v":1,"info":{"id":0},"config":{}}`,
		"config array":  `{"v":1,"info":{"id":1},"config":[]}`,
		"no config":     `{"v":1,"info":{"id":1}}`,
		"unknown leaf":  `{"v":1,"info":{"id":1},"config":{"tandem-ha:ha":{"config":{"nope":1}}}}`,
		"state leaf":    `{"v":1,"info":{"id":1},"config":{"tandem-ha:ha":{"state":{"heartbeat-interval":5}}}}`,
	} {
		if _, _, err := decodeRecord([]byte(b)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(validRecord(f))
	f.Add([]byte(`{"v":1,"info":{"id":1,"time":"2026-01-01T00:00:00Z"},"config":{}}`))
	f.Add([]byte(`{"v":1,"info":{"id":7},"config":{"tandem-interfaces:interfaces":{"interface":[{"name":"X1","config":{"name":"X1"}}]}}}`))
	f.Add([]byte(`{"v":1,"info":{"id":1},"config":{"tandem-ha:ha":{"config":{"heartbeat-interval":"x"}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, c, err := decodeRecord(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same revision.
		b2, err := encodeRecord(info, c.json)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		info2, c2, err := decodeRecord(b2)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, b2)
		}
		j1, _ := json.Marshal(info)
		j2, _ := json.Marshal(info2)
		if !bytes.Equal(j1, j2) || !bytes.Equal(c.json, c2.json) {
			t.Fatalf("round trip differs:\n%s\n%s", j1, j2)
		}
		if !model.Equal(c.dev, c2.dev) {
			t.Fatalf("configuration differs after round trip: %s", c.json)
		}
	})
}
