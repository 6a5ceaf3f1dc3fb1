package fsm

import "testing"

// With ConfirmTakeover, becoming active waits for Ready; the decision is
// re-checked at Ready and cancelled when its reason goes away.
// SPEC: TKO-1, DET-1
func TestTakeoverWaitsForReadyTKO1(t *testing.T) {
	cfg := testConfig("S1", Primary)
	cfg.ConfirmTakeover = true
	start := func(t *testing.T) *driver {
		d := newDriver(t, cfg)
		d.hb(0, PathControl, peerHB(1, RoleActive))
		d.hb(100, PathControl, peerHB(2, RoleActive))
		d.out = nil
		d.ticks(125, 400) // peer dead at 400
		return d
	}
	t.Run("ready completes", func(t *testing.T) {
		d := start(t)
		if !containsPrepare(d.out) || d.m.Role() != RoleStandby || !d.m.State().PendingActive {
			t.Fatalf("want PrepareActive and still standby:\n%s", fmtOutputs(d.out))
		}
		if n := countPrepare(d.out); n != 1 {
			t.Errorf("%d PrepareActive, want 1", n)
		}
		out := d.step(Ready{At: ms(450)})
		if rc, _ := lastRoleChange(out); rc != (RoleChange{From: RoleStandby, To: RoleActive, Reason: ReasonPeerDead}) {
			t.Errorf("at Ready: %v", rc)
		}
	})
	t.Run("peer returns before ready", func(t *testing.T) {
		d := start(t)
		out := d.hb(420, PathBackup, peerHB(3, RoleActive))
		if !hasEvent(out, EventTakeoverAborted) || d.m.State().PendingActive {
			t.Errorf("want takeover-aborted:\n%s", fmtOutputs(out))
		}
		out = d.step(Ready{At: ms(450)})
		if _, changed := lastRoleChange(out); changed || d.m.Role() != RoleStandby {
			t.Errorf("late Ready changed the role:\n%s", fmtOutputs(out))
		}
	})
	t.Run("service fails before ready", func(t *testing.T) {
		d := start(t)
		d.step(ServiceHealth{At: ms(420), OK: false})
		out := d.step(Ready{At: ms(450)})
		if d.m.Role() != RoleFaulted || hasRoleChangeTo(out, RoleActive, ReasonPeerDead) {
			t.Errorf("role %s\n%s", d.m.Role(), fmtOutputs(out))
		}
	})
}

func countPrepare(out []Output) int {
	n := 0
	for _, o := range out {
		if _, ok := o.(PrepareActive); ok {
			n++
		}
	}
	return n
}

func containsPrepare(out []Output) bool { return countPrepare(out) > 0 }
