package fsm

import "testing"

// Forced status overrides quality, is shown in State, and reset returns to
// automatic without moving the role back.
// SPEC: ROLE-4
func TestForcedStatusROLE4(t *testing.T) {
	a, b := pairConfigs()
	s := newSim(a, b, 19)
	s.runFor(secs(1))
	s.setLink(1, "X2", LinkStatus{}) // the secondary is worse
	s.runFor(secs(1))

	s.step(1, Admin{At: s.now, Cmd: CmdForceActive})
	if st := s.m[1].State(); st.Forced != ForcedActive {
		t.Errorf("State().Forced = %s", st.Forced)
	}
	if !hasEvent(s.log[1], EventForced) {
		t.Errorf("no forced event")
	}
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleStandby, RoleActive} {
		t.Fatalf("force-active on the worse secondary: roles %v\n%s", s.roles(), fmtLogs(s))
	}
	if !hasRoleChangeTo(s.log[0], RoleStandby, ReasonPeerForced) {
		t.Errorf("primary did not hand over for the forced peer")
	}

	s.step(1, Admin{At: s.now, Cmd: CmdReset})
	s.runFor(secs(1))
	if s.m[1].State().Forced != ForcedNone {
		t.Errorf("reset: forced %s", s.m[1].State().Forced)
	}
	// automatic again: the worse secondary hands back on link monitoring
	if s.roles() != [2]Role{RoleActive, RoleStandby} {
		t.Errorf("after reset: roles %v, want the better primary active", s.roles())
	}

	s.step(0, Admin{At: s.now, Cmd: CmdForceStandby})
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleStandby, RoleActive} {
		t.Errorf("force-standby on the active: roles %v", s.roles())
	}
	s.crash(1)
	s.runFor(secs(2))
	if s.role(0) != RoleStandby {
		t.Errorf("forced standby alone: %s, want standby", s.role(0))
	}
}

// Manual switchover: the active hands over when the peer can take the role,
// and refuses otherwise.
// SPEC: ROLE-4
func TestAdminFailoverROLE4(t *testing.T) {
	a, b := pairConfigs()
	s := newSim(a, b, 23)
	s.runFor(secs(1))
	s.step(1, Admin{At: s.now, Cmd: CmdFailover})
	if !hasEvent(s.log[1], EventFailoverRefused) {
		t.Errorf("failover on the standby: no failover-refused")
	}
	s.step(0, Admin{At: s.now, Cmd: CmdFailover})
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleStandby, RoleActive} {
		t.Errorf("after failover: roles %v", s.roles())
	}
	if !hasRoleChangeTo(s.log[0], RoleStandby, ReasonAdminFailover) {
		t.Errorf("no active->standby (admin failover)")
	}
	s.step(0, ServiceHealth{At: s.now, OK: false})
	s.runFor(secs(1))
	s.log[1] = nil
	s.step(1, Admin{At: s.now, Cmd: CmdFailover})
	if !hasEvent(s.log[1], EventFailoverRefused) || s.role(1) != RoleActive {
		t.Errorf("failover to a faulted peer: %v, role %s", eventKinds(s.log[1]), s.role(1))
	}
}

// A unit configured forced standby never becomes active.
// SPEC: ROLE-4
func TestForcedStandbyConfigROLE4(t *testing.T) {
	cfg := testConfig("S1", Primary)
	cfg.Forced = ForcedStandby
	d := newDriver(t, cfg)
	d.ticks(25, 2000)
	if d.m.Role() != RoleStandby || d.m.State().Forced != ForcedStandby {
		t.Errorf("role %s forced %s", d.m.Role(), d.m.State().Forced)
	}
	// SetConfig back to none clears it; the unit is alone and takes the role
	cfg.Forced = ForcedNone
	d.step(SetConfig{At: ms(2100), Config: cfg})
	if d.m.Role() != RoleActive {
		t.Errorf("after clearing forced: %s", d.m.Role())
	}
}
