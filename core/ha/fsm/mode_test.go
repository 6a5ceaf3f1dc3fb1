package fsm

import (
	"strings"
	"testing"
)

// A peer of another model is refused (event, reason in State) and this unit
// stays as it is; another firmware pairs in fail-soft mode.
// SPEC: MODE-5
func TestModelAndFirmwareMismatchMODE5(t *testing.T) {
	t.Run("model mismatch, peer active: refuse, stay standby", func(t *testing.T) {
		d := newDriver(t, testConfig("S1", Primary))
		p := peerHB(1, RoleActive)
		p.Model = "nsa-6600"
		out := d.hb(50, PathControl, p)
		if !hasEvent(out, EventRefuseToPair) {
			t.Errorf("no refuse-to-pair:\n%s", fmtOutputs(out))
		}
		for n := 100; n <= 3000; n += 100 {
			p.Seq++
			d.hb(n, PathControl, p)
			d.ticks(n+25, n+75)
		}
		st := d.m.State()
		if !st.Refused || !strings.Contains(st.Reason, "model mismatch") || st.Role != RoleStandby {
			t.Errorf("state %+v", st)
		}
		if c := countEvents(d.out, EventRefuseToPair); c != 1 {
			t.Errorf("%d refuse-to-pair events, want 1", c)
		}
	})
	t.Run("model mismatch, this unit active: stays active", func(t *testing.T) {
		d := activeAlone(t, testConfig("S1", Primary))
		p := peerHB(1, RoleActive)
		p.Model, p.Quality = "nsa-6600", 100
		out := d.hb(400, PathControl, p)
		if _, changed := lastRoleChange(out); changed || d.m.Role() != RoleActive {
			t.Errorf("refused peer changed the role:\n%s", fmtOutputs(out))
		}
		if out := d.step(Admin{At: ms(500), Cmd: CmdFailover}); !hasEvent(out, EventFailoverRefused) {
			t.Errorf("failover to a refused peer was not refused")
		}
	})
	t.Run("firmware mismatch: fail-soft, pair forms", func(t *testing.T) {
		d := newDriver(t, testConfig("S1", Primary))
		p := peerHB(1, RoleActive)
		p.Firmware = "0.9"
		out := d.hb(50, PathControl, p)
		if !hasEvent(out, EventFailSoft) {
			t.Errorf("no fail-soft:\n%s", fmtOutputs(out))
		}
		st := d.m.State()
		if !st.Degraded || st.Refused || !strings.Contains(st.Reason, "firmware mismatch") || st.Role != RoleStandby {
			t.Errorf("state %+v", st)
		}
		// the pair works normally: the active peer dies, this unit takes over
		d.ticks(75, 400)
		if d.m.Role() != RoleActive {
			t.Errorf("fail-soft standby did not take over: %s", d.m.Role())
		}
	})
	t.Run("firmware mismatch in a running pair", func(t *testing.T) {
		a, b := pairConfigs()
		b.Firmware = "1.1"
		s := newSim(a, b, 31)
		s.runFor(secs(2))
		if s.roles() != [2]Role{RoleActive, RoleStandby} || !s.m[0].State().Degraded || !s.m[1].State().Degraded {
			t.Errorf("roles %v degraded %v %v", s.roles(), s.m[0].State().Degraded, s.m[1].State().Degraded)
		}
	})
}

func countEvents(out []Output, k EventKind) int {
	n := 0
	for _, e := range eventKinds(out) {
		if e == k {
			n++
		}
	}
	return n
}
