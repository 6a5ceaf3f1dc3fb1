package fsm

import (
	"testing"
	"time"
)

// A recovered primary takes the role back only with preempt on, after the
// hold time, when its quality is not lower; and it does so once.
// SPEC: ROLE-3
func TestPreemptROLE3(t *testing.T) {
	tests := []struct {
		name        string
		preempt     bool
		primaryLink bool // X2 up on the recovered primary
		want        [2]Role
	}{
		{"preempt off: secondary stays active", false, true, [2]Role{RoleStandby, RoleActive}},
		{"preempt on: primary takes back after hold", true, true, [2]Role{RoleActive, RoleStandby}},
		{"preempt on, primary quality lower: no preempt", true, false, [2]Role{RoleStandby, RoleActive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pairConfigs()
			for _, c := range []*Config{&a, &b} {
				c.Preempt, c.PreemptHoldTime = tt.preempt, 5*time.Second
				c.Interfaces[1].Physical = false // X2 counts for quality only
				c.Hysteresis = 60
			}
			s := newSim(a, b, 17)
			s.runFor(secs(1))
			s.crash(0)
			s.runFor(secs(1))
			if !tt.primaryLink {
				s.links[0]["X2"] = LinkStatus{}
			}
			s.start(0)
			s.runFor(secs(3)) // less than the hold time
			if s.roles() != [2]Role{RoleStandby, RoleActive} {
				t.Fatalf("before the hold time: roles %v\n%s", s.roles(), fmtLogs(s))
			}
			s.runFor(secs(30))
			if s.roles() != tt.want {
				t.Errorf("roles %v, want %v\n%s", s.roles(), tt.want, fmtLogs(s))
			}
			if tt.want[0] == RoleActive {
				if !hasEvent(s.log[1], EventPreempt) || !hasRoleChangeTo(s.log[1], RoleStandby, ReasonPreempt) {
					t.Errorf("no preempt event / role change on the secondary:\n%s", fmtLogs(s))
				}
				if since := s.m[0].State().Since.Sub(s.m[1].State().Since); since < 0 {
					t.Errorf("primary active before the secondary stepped down")
				}
			}
			// never flapping: the secondary became active once and left at most once
			if n := len(roleChanges(s.log[1])); n > 3 {
				t.Errorf("secondary: %d role changes (flapping)\n%s", n, fmtLogs(s))
			}
		})
	}
}

// SPEC: ROLE-3
// The hold time starts when the recovered primary is verified healthy
// (quality not lower than the active's), not when it became standby: a
// primary that comes back with a link down and repairs it later takes the
// role back one full hold time after the repair.
func TestPreemptHoldStartsWhenHealthyROLE3(t *testing.T) {
	a, b := pairConfigs()
	for _, c := range []*Config{&a, &b} {
		c.Preempt, c.PreemptHoldTime = true, 5*time.Second
		c.Interfaces[1].Physical = false // X2 counts for quality only
		c.Hysteresis = 60
	}
	s := newSim(a, b, 23)
	s.runFor(secs(1))
	s.crash(0)
	s.runFor(secs(1))
	s.links[0]["X2"] = LinkStatus{} // the primary comes back with X2 down
	s.start(0)
	s.runFor(secs(10)) // a standby for longer than the hold time, but not whole
	if s.roles() != [2]Role{RoleStandby, RoleActive} {
		t.Fatalf("preempted while its quality was lower: roles %v\n%s", s.roles(), fmtLogs(s))
	}
	s.setLink(0, "X2", LinkStatus{Up: true}) // repaired
	s.runFor(secs(4))                        // less than the hold time since the repair
	if s.roles() != [2]Role{RoleStandby, RoleActive} {
		t.Fatalf("preempted %v before a full hold time after the repair\n%s", s.roles(), fmtLogs(s))
	}
	s.runFor(secs(10))
	if s.roles() != [2]Role{RoleActive, RoleStandby} {
		t.Errorf("no preempt after the hold time: roles %v\n%s", s.roles(), fmtLogs(s))
	}
}
