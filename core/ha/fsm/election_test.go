package fsm

import (
	"fmt"
	"testing"
	"time"
)

// The election order must be antisymmetric so that two units with the same
// data never both yield nor both claim the role.
// SPEC: ROLE-1, ROLE-5, DET-6
func TestElectionAntisymmetricROLE1(t *testing.T) {
	ifs := []Interface{{Name: "X1", Weight: 100, Physical: true, Probe: true}}
	var cands []candidate
	for _, el := range []bool{true, false} {
		for _, f := range []Forced{ForcedNone, ForcedActive} {
			for _, q := range []int{50, 100} {
				for _, pr := range []int{0, 50} {
					for _, up := range []bool{true, false} {
						for _, probe := range []bool{true, false} {
							cands = append(cands, candidate{eligible: el, forced: f, quality: q, priority: pr,
								links: Links{"X1": {Up: up, ProbeOK: probe}}})
						}
					}
				}
			}
		}
	}
	n := 0
	for _, a := range cands {
		for _, b := range cands {
			for _, ds := range [][2]Designation{{Primary, Secondary}, {Secondary, Primary}, {Primary, Primary}} {
				a.serial, a.desig, b.serial, b.desig = "S1", ds[0], "S2", ds[1]
				if better(a, b, ifs) == better(b, a, ifs) {
					t.Fatalf("better not antisymmetric:\n a=%+v\n b=%+v", a, b)
				}
				n++
			}
		}
	}
	t.Logf("%d pairs checked", n)
}

// Two units starting together elect one active by the documented order.
// SPEC: ROLE-1, ROLE-2, ROLE-5, DET-6
func TestElectionPairROLE1(t *testing.T) {
	tests := []struct {
		name  string
		setup func(a, b *Config, la, lb Links)
		want  [2]Role
	}{
		{"equal: primary wins", func(a, b *Config, la, lb Links) {}, [2]Role{RoleActive, RoleStandby}},
		{"ROLE-5 active-if-equal secondary", func(a, b *Config, la, lb Links) {
			a.ActiveIfEqual, b.ActiveIfEqual = EqualSecondary, EqualSecondary
		}, [2]Role{RoleStandby, RoleActive}},
		{"ROLE-5 active-if-equal primary", func(a, b *Config, la, lb Links) {
			a.ActiveIfEqual, b.ActiveIfEqual = EqualPrimary, EqualPrimary
		}, [2]Role{RoleActive, RoleStandby}},
		{"DET-6 better quality beats active-if-equal", func(a, b *Config, la, lb Links) {
			a.ActiveIfEqual, b.ActiveIfEqual = EqualSecondary, EqualSecondary
			for _, c := range []*Config{a, b} {
				c.Interfaces = append(c.Interfaces, Interface{Name: "X3", Weight: 50})
			}
			la["X3"] = LinkStatus{Up: true}
			lb["X3"] = LinkStatus{}
		}, [2]Role{RoleActive, RoleStandby}},
		{"DET-3 monitored link down on primary", func(a, b *Config, la, lb Links) {
			la["X2"] = LinkStatus{}
		}, [2]Role{RoleStandby, RoleActive}},
		{"ROLE-4 forced active secondary", func(a, b *Config, la, lb Links) {
			b.Forced = ForcedActive
		}, [2]Role{RoleStandby, RoleActive}},
		{"ROLE-4 forced standby primary", func(a, b *Config, la, lb Links) {
			a.Forced = ForcedStandby
		}, [2]Role{RoleStandby, RoleActive}},
		{"election delay 5s", func(a, b *Config, la, lb Links) {
			a.ElectionDelay, b.ElectionDelay = 5*time.Second, 5*time.Second
		}, [2]Role{RoleActive, RoleStandby}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pairConfigs()
			la, lb := allUp(a.Interfaces), allUp(b.Interfaces)
			tt.setup(&a, &b, la, lb)
			s := newSim(a, b, 1)
			for i, l := range []Links{la, lb} {
				for port, st := range l {
					s.setLink(i, port, st)
				}
			}
			s.runFor(a.ElectionDelay + 2*time.Second)
			if got := s.roles(); got != tt.want {
				t.Errorf("roles %v, want %v\n%s", got, tt.want, fmtLogs(s))
			}
			if n := len(roleChanges(s.log[0])) + len(roleChanges(s.log[1])); n != 3 {
				t.Errorf("%d role changes, want 3 (two leave initializing, one becomes active: no flapping)\n%s", n, fmtLogs(s))
			}
		})
	}
}

func fmtLogs(s *sim) string {
	return fmt.Sprintf("unit 0:\n%sunit 1:\n%s", fmtOutputs(roleAndEvents(s.log[0])), fmtOutputs(roleAndEvents(s.log[1])))
}

func roleAndEvents(out []Output) []Output {
	var r []Output
	for _, o := range out {
		if _, ok := o.(SendHeartbeat); !ok {
			r = append(r, o)
		}
	}
	return r
}
