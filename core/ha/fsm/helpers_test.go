package fsm

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func testConfig(serial string, d Designation) Config {
	return Config{
		Serial: serial, Designation: d, Model: "lab", Firmware: "1.0",
		HeartbeatInterval: 100 * time.Millisecond, TriggerLevel: 3,
		PreemptHoldTime: time.Second, Hysteresis: 10, ActiveIfEqual: EqualAutomatic,
		Interfaces: []Interface{
			{Name: "X1", Weight: 100, Physical: true, Probe: true},
			{Name: "X2", Weight: 100, Physical: true},
		},
	}
}

func allUp(ifs []Interface) Links {
	l := Links{}
	for _, f := range ifs {
		l[f.Name] = LinkStatus{Up: true, ProbeOK: true}
	}
	return l
}

// peerHB is a heartbeat payload from a peer "S2" (secondary), healthy.
func peerHB(seq uint64, role Role) PeerState {
	return PeerState{
		Serial: "S2", Designation: Secondary, Model: "lab", Firmware: "1.0",
		Boot: t0, Seq: seq, Role: role, Quality: 100, Forced: ForcedNone,
		BulkSyncComplete: true, Links: allUp(testConfig("", Secondary).Interfaces),
	}
}

// driver runs one machine against scripted peer heartbeats.
type driver struct {
	t   *testing.T
	m   *Machine
	out []Output
}

func newDriver(t *testing.T, cfg Config) *driver {
	d := &driver{t: t, m: New(cfg, t0)}
	d.step(LocalLinks{At: t0, Links: allUp(cfg.Interfaces)})
	return d
}

func (d *driver) step(in Input) []Output {
	o := d.m.Step(in)
	d.out = append(d.out, o...)
	return o
}

// ticks steps Ticks every 25 ms from..to inclusive.
func (d *driver) ticks(from, to int) {
	for n := from; n <= to; n += 25 {
		d.step(Tick{At: ms(n)})
	}
}

// hb has the machine advertise one round, then delivers a peer heartbeat
// that acknowledges it.
func (d *driver) hb(n int, p Path, ps PeerState) []Output {
	d.m.Advertise()
	ps.Ack, ps.AckBoot = d.m.seq, d.m.boot
	return d.step(Heartbeat{At: ms(n), Path: p, Peer: ps})
}

func roleChanges(out []Output) []RoleChange {
	var r []RoleChange
	for _, o := range out {
		if rc, ok := o.(RoleChange); ok {
			r = append(r, rc)
		}
	}
	return r
}

func eventKinds(out []Output) []EventKind {
	var r []EventKind
	for _, o := range out {
		if e, ok := o.(Event); ok {
			r = append(r, e.Kind)
		}
	}
	return r
}

func hasEvent(out []Output, k EventKind) bool { return slices.Contains(eventKinds(out), k) }

func lastRoleChange(out []Output) (RoleChange, bool) {
	rc := roleChanges(out)
	if len(rc) == 0 {
		return RoleChange{}, false
	}
	return rc[len(rc)-1], true
}

func fmtOutputs(out []Output) string {
	s := ""
	for _, o := range out {
		s += fmt.Sprintf("  %v\n", o)
	}
	return s
}

// activeAlone starts a driver with no peer until it is active (ROLE-2), at
// 300 ms (window: 0 s election delay + 3 x 100 ms).
func activeAlone(t *testing.T, cfg Config) *driver {
	t.Helper()
	d := newDriver(t, cfg)
	d.ticks(25, 300)
	if d.m.Role() != RoleActive {
		t.Fatalf("alone after the window: role %s, want active\n%s", d.m.Role(), fmtOutputs(d.out))
	}
	d.out = nil
	return d
}

func secs(n int) time.Duration { return time.Duration(n) * time.Second }
