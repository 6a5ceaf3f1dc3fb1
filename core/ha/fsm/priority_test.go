package fsm

import "testing"

// The active-if-equal unit reports priority 50 and wins on equal quality,
// also over a running active (swap); unequal quality wins over it.
// SPEC: ROLE-5
func TestActiveIfEqualROLE5(t *testing.T) {
	for _, tt := range []struct {
		aie  ActiveIfEqual
		want [2]int
	}{{EqualAutomatic, [2]int{0, 0}}, {EqualPrimary, [2]int{50, 0}}, {EqualSecondary, [2]int{0, 50}}} {
		a, b := pairConfigs()
		a.ActiveIfEqual, b.ActiveIfEqual = tt.aie, tt.aie
		got := [2]int{New(a, t0).State().Priority, New(b, t0).State().Priority}
		if got != tt.want {
			t.Errorf("%s: priorities %v, want %v", tt.aie, got, tt.want)
		}
	}

	a, b := pairConfigs()
	a.PreemptHoldTime, b.PreemptHoldTime = 0, 0
	s := newSim(a, b, 29)
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleActive, RoleStandby} {
		t.Fatalf("roles %v", s.roles())
	}
	a.ActiveIfEqual, b.ActiveIfEqual = EqualSecondary, EqualSecondary
	s.step(0, SetConfig{At: s.now, Config: a})
	s.step(1, SetConfig{At: s.now, Config: b})
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleStandby, RoleActive} {
		t.Errorf("after active-if-equal secondary: roles %v, want swap", s.roles())
	}
	if !hasRoleChangeTo(s.log[0], RoleStandby, ReasonPriority) {
		t.Errorf("no active->standby (priority)")
	}
	s.setLink(1, "X2", LinkStatus{})
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleActive, RoleStandby} {
		t.Errorf("priority unit lost a link: roles %v, want the primary active", s.roles())
	}
}
