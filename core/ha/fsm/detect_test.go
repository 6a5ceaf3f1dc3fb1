package fsm

import (
	"slices"
	"testing"
	"time"
)

// A standby with an active peer declares it dead after trigger-level missed
// intervals on all paths, and not one tick before.
// SPEC: DET-1, DET-7
func TestPeerDeadAfterTriggerLevelDET1(t *testing.T) {
	for _, level := range []int{2, 3, 5} {
		t.Run("trigger "+string(rune('0'+level)), func(t *testing.T) {
			cfg := testConfig("S1", Primary)
			cfg.TriggerLevel = level
			d := newDriver(t, cfg)
			for n := 0; n <= 1000; n += 100 {
				d.hb(n, PathControl, peerHB(uint64(n/100+1), RoleActive))
				d.hb(n, PathBackup, peerHB(uint64(n/100+1), RoleActive))
				d.step(Tick{At: ms(n + 50)})
			}
			if d.m.Role() != RoleStandby {
				t.Fatalf("role %s with an active peer, want standby", d.m.Role())
			}
			dead := 1000 + level*100
			d.out = nil
			d.ticks(1025, dead-25)
			if d.m.Role() != RoleStandby || hasEvent(d.out, EventPeerLost) {
				t.Fatalf("took over before %d missed intervals:\n%s", level, fmtOutputs(d.out))
			}
			out := d.step(Tick{At: ms(dead)})
			rc, ok := lastRoleChange(out)
			if !ok || rc != (RoleChange{From: RoleStandby, To: RoleActive, Reason: ReasonPeerDead}) {
				t.Errorf("at %d ms: %v, want standby->active (peer dead)\n%s", dead, rc, fmtOutputs(out))
			}
			for _, k := range []EventKind{EventPathDown, EventPeerLost} {
				if !hasEvent(out, k) {
					t.Errorf("no %s event", k)
				}
			}
		})
	}
}

// Losing one heartbeat path only gives a path-down event; heartbeats on the
// other path keep the peer alive.
// SPEC: DET-2
func TestOnePathLostNoFailoverDET2(t *testing.T) {
	tests := []struct {
		name string
		keep Path
	}{
		{"control lost, backup carries", PathBackup},
		{"backup lost, control carries", PathControl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, testConfig("S1", Primary))
			seq := uint64(0)
			for n := 0; n <= 500; n += 100 {
				seq++
				d.hb(n, PathControl, peerHB(seq, RoleActive))
				d.hb(n, PathBackup, peerHB(seq, RoleActive))
			}
			d.out = nil
			for n := 600; n <= 5000; n += 100 {
				seq++
				d.hb(n, tt.keep, peerHB(seq, RoleActive))
				d.ticks(n+25, n+75)
			}
			if rc := roleChanges(d.out); len(rc) != 0 {
				t.Errorf("role changes %v, want none", rc)
			}
			lost := PathControl
			if tt.keep == PathControl {
				lost = PathBackup
			}
			want := []Output{Event{Kind: EventPathDown, Path: lost, Detail: "no heartbeat for 300ms"}}
			if got := eventsOnly(d.out); !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
			st := d.m.State()
			if st.Paths[lost].Up || !st.Paths[tt.keep].Up || !st.PeerAlive {
				t.Errorf("state paths %+v alive %v", st.Paths, st.PeerAlive)
			}
			if !st.Paths[tt.keep].LastHeartbeat.Equal(ms(5000)) {
				t.Errorf("last heartbeat %v, want %v", st.Paths[tt.keep].LastHeartbeat, ms(5000))
			}
		})
	}
}

// In a running pair, cutting either path (one or both directions) never
// fails over nor makes two actives; restoring it gives path-up.
// SPEC: DET-2
func TestPathCutPairDET2(t *testing.T) {
	for _, p := range []int{0, 1} {
		for _, both := range []bool{true, false} {
			a, b := pairConfigs()
			s := newSim(a, b, 7)
			s.runFor(time.Second)
			before := s.roles()
			s.log = [2][]Output{}
			s.cutPath(p, both)
			s.runFor(10 * time.Second)
			s.restorePath(p)
			s.runFor(time.Second)
			if s.roles() != before || s.actives() != 1 {
				t.Errorf("path %d both=%v: roles %v, want %v", p, both, s.roles(), before)
			}
			for i := range 2 {
				if rc := roleChanges(s.log[i]); len(rc) > 0 {
					t.Errorf("path %d both=%v: unit %d role changes %v", p, both, i, rc)
				}
			}
			if !hasEvent(s.log[1], EventPathDown) || !hasEvent(s.log[1], EventPathUp) {
				t.Errorf("path %d: unit 1 events %v, want path-down and path-up", p, eventKinds(s.log[1]))
			}
		}
	}
}

// Power loss of the active: the standby takes over after one heartbeat
// timeout; when the old active comes back it finds an active peer and
// becomes standby (preempt off).
// SPEC: DET-7, ROLE-2, ROLE-3
func TestCrashOfActiveDET7(t *testing.T) {
	a, b := pairConfigs()
	s := newSim(a, b, 3)
	s.runFor(time.Second)
	if s.roles() != [2]Role{RoleActive, RoleStandby} {
		t.Fatalf("roles %v", s.roles())
	}
	crash := s.now
	s.crash(0)
	s.runFor(time.Second)
	rc, _ := lastRoleChange(s.log[1])
	if rc.To != RoleActive || rc.Reason != ReasonPeerDead {
		t.Fatalf("unit 1 last role change %v", rc)
	}
	if took := s.m[1].State().Since.Sub(crash); took > a.Timeout()+a.HeartbeatInterval {
		t.Errorf("takeover %s after the crash, want at most %s", took, a.Timeout()+a.HeartbeatInterval)
	}
	s.start(0)
	s.runFor(10 * time.Second)
	if s.roles() != [2]Role{RoleStandby, RoleActive} {
		t.Errorf("after restart: roles %v, want [standby active]", s.roles())
	}
	if rc, _ := lastRoleChange(s.log[0]); rc.Reason != ReasonActivePeer {
		t.Errorf("restarted unit: %v, want initializing->standby (active peer found)", rc)
	}
}

// Two actives that hear each other (a healed partition) both step down and
// re-elect one.
// SPEC: DET-2, ROLE-1
func TestDualActiveStepsDownROLE1(t *testing.T) {
	d := activeAlone(t, testConfig("S1", Primary))
	out := d.hb(400, PathControl, peerHB(1, RoleActive))
	rc, _ := lastRoleChange(out)
	if rc != (RoleChange{From: RoleActive, To: RoleStandby, Reason: ReasonDualActive}) || !hasEvent(out, EventDualActive) {
		t.Errorf("got\n%s", fmtOutputs(out))
	}

	a, b := pairConfigs()
	s := newSim(a, b, 5)
	s.cutPath(0, true)
	s.cutPath(1, true)
	s.runFor(time.Second)
	if s.actives() != 2 {
		t.Fatalf("partitioned from the start: roles %v, want both active", s.roles())
	}
	s.restorePath(0)
	s.runFor(2 * time.Second)
	if s.actives() != 1 {
		t.Errorf("after healing: roles %v, want one active", s.roles())
	}
}

func eventsOnly(out []Output) []Output {
	var r []Output
	for _, o := range out {
		if e, ok := o.(Event); ok {
			r = append(r, e)
		}
	}
	return r
}

// NextDeadline names the instant a Tick must come for the machine to act
// on time: the end of the startup window, then the heartbeat timeout of
// the path heard from longest ago; a Tick just before it changes nothing.
// SPEC: DET-1, DET-7, ROLE-2
func TestNextDeadlineDET1(t *testing.T) {
	d := newDriver(t, testConfig("S1", Primary)) // 100 ms x 3, no election delay
	if got, want := d.m.NextDeadline(), ms(300); !got.Equal(want) {
		t.Fatalf("initializing alone: deadline %s, want the window's end %s", got.Sub(t0), want.Sub(t0))
	}
	d.hb(0, PathControl, peerHB(1, RoleActive))
	d.hb(40, PathBackup, peerHB(1, RoleActive))
	if d.m.Role() != RoleStandby {
		t.Fatalf("role %s with an active peer, want standby", d.m.Role())
	}
	if got, want := d.m.NextDeadline(), ms(300); !got.Equal(want) {
		t.Fatalf("standby: deadline %s, want the control path's timeout at %s", got.Sub(t0), want.Sub(t0))
	}
	d.out = nil
	d.step(Tick{At: ms(300).Add(-time.Nanosecond)})
	if len(d.out) != 0 {
		t.Fatalf("a tick before the deadline acted:\n%s", fmtOutputs(d.out))
	}
	out := d.step(Tick{At: d.m.NextDeadline()})
	if want := []Output{Event{Kind: EventPathDown, Path: PathControl, Detail: "no heartbeat for 300ms"}}; !slices.Equal(eventsOnly(out), want) {
		t.Fatalf("at the deadline: %v, want %v", eventsOnly(out), want)
	}
	if got, want := d.m.NextDeadline(), ms(340); !got.Equal(want) {
		t.Fatalf("after the control path: deadline %s, want the backup path's timeout at %s", got.Sub(t0), want.Sub(t0))
	}
	out = d.step(Tick{At: d.m.NextDeadline()})
	if rc, ok := lastRoleChange(out); !ok || rc.To != RoleActive || !hasEvent(out, EventPeerLost) {
		t.Fatalf("at the last path's deadline: want peer lost and standby->active\n%s", fmtOutputs(out))
	}
}
