package fsm

import "testing"

// A failed critical service makes the unit faulted (quality 0), hands the
// role over, and the unit is standby again once services recover.
// SPEC: DET-5
func TestServiceFailureDET5(t *testing.T) {
	a, b := pairConfigs()
	s := newSim(a, b, 13)
	s.runFor(secs(1))
	s.step(0, ServiceHealth{At: s.now, OK: false, Reason: "dataplane not answering"})
	if st := s.m[0].State(); st.Role != RoleFaulted || st.Quality != 0 || st.ServiceReason != "dataplane not answering" {
		t.Errorf("after the failure: %+v", st)
	}
	if rc, _ := lastRoleChange(s.log[0]); rc != (RoleChange{From: RoleActive, To: RoleFaulted, Reason: ReasonServiceFault}) {
		t.Errorf("role change %v", rc)
	}
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleFaulted, RoleActive} {
		t.Fatalf("roles %v, want [faulted active]", s.roles())
	}
	s.crash(1) // a faulted unit never takes the role, even alone
	s.runFor(secs(2))
	if s.role(0) != RoleFaulted {
		t.Errorf("faulted unit alone: %s, want faulted", s.role(0))
	}
	s.start(1)
	s.step(0, ServiceHealth{At: s.now, OK: true})
	s.runFor(secs(2))
	if s.actives() != 1 || s.role(0) != RoleStandby && s.role(0) != RoleActive {
		t.Errorf("after recovery: roles %v", s.roles())
	}
	if !hasRoleChangeTo(s.log[0], RoleStandby, ReasonServiceRecovered) {
		t.Errorf("no faulted->standby (recovered):\n%s", fmtLogs(s))
	}
}

func hasRoleChangeTo(out []Output, to Role, why Reason) bool {
	for _, rc := range roleChanges(out) {
		if rc.To == to && rc.Reason == why {
			return true
		}
	}
	return false
}
