package fsm

import "testing"

// The active unit hands over on link and probe monitoring and on quality
// beyond the hysteresis, and only then.
// SPEC: DET-3, DET-4, DET-6
func TestActiveHandoverMonitoringDET3DET4(t *testing.T) {
	up := LinkStatus{Up: true, ProbeOK: true}
	down := LinkStatus{}
	probeFail := LinkStatus{Up: true}
	tests := []struct {
		name      string
		ifaces    []Interface
		hyst      int
		local     Links
		peer      Links
		peerQ     int
		wantWhy   Reason // "" = stays active
		wantOther bool   // peer must show the handover (HandoverTo)
	}{
		// SPEC: DET-3
		{name: "DET-3 link down here, up on peer", local: Links{"X1": down, "X2": up}, peer: Links{"X1": up, "X2": up},
			wantWhy: ReasonLinkMonitor},
		{name: "DET-3 link down on both", local: Links{"X1": down, "X2": up}, peer: Links{"X1": down, "X2": up}},
		{name: "DET-3 each lost a different link", local: Links{"X1": down, "X2": up}, peer: Links{"X1": up, "X2": down}},
		{name: "DET-3 physical monitoring off: quality within hysteresis decides",
			ifaces: []Interface{{Name: "X1", Weight: 10}, {Name: "X2", Weight: 100}}, hyst: 10,
			local: Links{"X1": down, "X2": up}, peer: Links{"X1": up, "X2": up}},
		// SPEC: DET-4
		{name: "DET-4 probe fails here only", local: Links{"X1": probeFail, "X2": up}, peer: Links{"X1": up, "X2": up},
			wantWhy: ReasonProbeMonitor},
		{name: "DET-4 probe fails on both", local: Links{"X1": probeFail, "X2": up}, peer: Links{"X1": probeFail, "X2": up}},
		{name: "DET-4 probe fails on peer only", local: Links{"X1": up, "X2": up}, peer: Links{"X1": probeFail, "X2": up}},
		{name: "DET-4 probe monitoring off", ifaces: []Interface{{Name: "X1", Weight: 100}},
			local: Links{"X1": probeFail}, peer: Links{"X1": up}},
		// SPEC: DET-6
		{name: "DET-6 peer better by more than hysteresis",
			ifaces: []Interface{{Name: "X1", Weight: 100}, {Name: "X2", Weight: 100}}, hyst: 10,
			local: Links{"X1": down, "X2": up}, peer: Links{"X1": up, "X2": up}, peerQ: 100, wantWhy: ReasonQuality},
		{name: "DET-6 peer better but within hysteresis",
			ifaces: []Interface{{Name: "X1", Weight: 100}, {Name: "X2", Weight: 100}}, hyst: 50,
			local: Links{"X1": down, "X2": up}, peer: Links{"X1": up, "X2": up}, peerQ: 100},
		{name: "DET-6 peer better by exactly the hysteresis",
			ifaces: []Interface{{Name: "X1", Weight: 100}, {Name: "X2", Weight: 100}}, hyst: 50,
			local: Links{"X1": down, "X2": up}, peer: Links{"X1": up, "X2": up}, peerQ: 100},
		{name: "DET-6 peer worse", ifaces: []Interface{{Name: "X1", Weight: 100}}, hyst: 0,
			local: Links{"X1": up}, peer: Links{"X1": down}, peerQ: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("S1", Primary)
			if tt.ifaces != nil {
				cfg.Interfaces = tt.ifaces
			}
			cfg.Hysteresis = tt.hyst
			d := activeAlone(t, cfg)
			p := peerHB(1, RoleStandby)
			p.Links = tt.peer
			p.Quality = Quality(cfg.Interfaces, tt.peer)
			if tt.peerQ != 0 {
				p.Quality = tt.peerQ
			}
			d.hb(400, PathControl, p)
			out := d.step(LocalLinks{At: ms(410), Links: tt.local})
			rc, changed := lastRoleChange(out)
			if tt.wantWhy == "" {
				if changed {
					t.Errorf("stepped down: %v", rc)
				}
				return
			}
			if rc != (RoleChange{From: RoleActive, To: RoleStandby, Reason: tt.wantWhy}) {
				t.Errorf("got %v, want active->standby (%s)\n%s", rc, tt.wantWhy, fmtOutputs(out))
			}
			if d.m.State().HandoverTo != "S2" || !d.m.Advertise().Yield {
				t.Errorf("after stepping down: handover %q, want S2 and a yielding heartbeat", d.m.State().HandoverTo)
			}
		})
	}
}

// In a running pair a monitored link lost on the active moves the role to
// the standby once, and it stays there when the link comes back (no loop).
// SPEC: DET-3, DET-6
func TestLinkDownPairFailoverDET3(t *testing.T) {
	a, b := pairConfigs()
	s := newSim(a, b, 11)
	s.runFor(secs(1))
	s.setLink(0, "X2", LinkStatus{})
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleStandby, RoleActive} {
		t.Fatalf("roles %v, want [standby active]\n%s", s.roles(), fmtLogs(s))
	}
	s.setLink(0, "X2", LinkStatus{Up: true, ProbeOK: true})
	s.setLink(1, "X1", LinkStatus{Up: true}) // probe fails on the new active only
	s.runFor(secs(1))
	if s.roles() != [2]Role{RoleActive, RoleStandby} {
		t.Errorf("DET-4 back to unit 0: roles %v", s.roles())
	}
	s.setLink(0, "X1", LinkStatus{Up: true}) // now both fail the probe
	s.runFor(secs(5))
	if s.roles() != [2]Role{RoleActive, RoleStandby} {
		t.Errorf("both probes fail: roles %v, want no change", s.roles())
	}
	if n := len(roleChanges(s.log[0])); n != 4 {
		t.Errorf("unit 0: %d role changes, want 4\n%s", n, fmtLogs(s))
	}
}
