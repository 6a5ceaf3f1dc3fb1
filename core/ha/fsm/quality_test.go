package fsm

import "testing"

// SPEC: DET-6
func TestQualityFactorDET6(t *testing.T) {
	seed := []Interface{{Name: "out", Weight: 100}, {Name: "in", Weight: 100}, {Name: "dmz2", Weight: 75}}
	tests := []struct {
		name   string
		ifaces []Interface
		links  Links
		want   int
	}{
		{"seed example: out up, in down, dmz2 up", seed,
			Links{"out": {Up: true}, "in": {Up: false}, "dmz2": {Up: true}}, 63},
		{"all up", seed, Links{"out": {Up: true}, "in": {Up: true}, "dmz2": {Up: true}}, 100},
		{"all down", seed, Links{}, 0},
		{"missing port counts as down", seed, Links{"out": {Up: true}, "in": {Up: true}}, 72},
		{"weight 0 does not count", []Interface{{Name: "a", Weight: 0}, {Name: "b", Weight: 100}},
			Links{"b": {Up: true}}, 100},
		{"no monitored interfaces", nil, Links{}, 100},
		{"all weights 0", []Interface{{Name: "a", Weight: 0}}, Links{}, 100},
		{"weight clamped to 9999", []Interface{{Name: "a", Weight: 20000}, {Name: "b", Weight: 1}},
			Links{"b": {Up: true}}, 0},
		{"probe result does not change quality", seed,
			Links{"out": {Up: true}, "in": {Up: true, ProbeOK: false}, "dmz2": {Up: true}}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quality(tt.ifaces, tt.links); got != tt.want {
				t.Errorf("Quality = %d, want %d", got, tt.want)
			}
		})
	}
}

// SPEC: DET-6
func TestQualityInStateDET6(t *testing.T) {
	cfg := testConfig("S1", Primary)
	cfg.Interfaces = []Interface{{Name: "out", Weight: 100}, {Name: "in", Weight: 100}, {Name: "dmz2", Weight: 75}}
	d := newDriver(t, cfg)
	out := d.step(LocalLinks{At: ms(10), Links: Links{"out": {Up: true}, "dmz2": {Up: true}}})
	if q := d.m.State().Quality; q != 63 {
		t.Errorf("State().Quality = %d, want 63", q)
	}
	if !hasEvent(out, EventQualityChange) {
		t.Errorf("no quality-change event:\n%s", fmtOutputs(out))
	}
	// SPEC: DET-5 a failed critical service makes the quality 0
	d.step(ServiceHealth{At: ms(20), OK: false, Reason: "dataplane"})
	if q := d.m.State().Quality; q != 0 {
		t.Errorf("quality with a failed service = %d, want 0", q)
	}
}
