package fsm

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	propSeeds = flag.Int("fsm.seeds", 0, "seeds for TestNeverTwoActivesProperty (0: default)")
	propDelay = flag.Float64("fsm.delay", 1, "largest one-way delay in heartbeat intervals")
)

// TestNeverTwoActivesProperty runs two machines over two heartbeat paths with
// random delays, loss, one- and two-way path cuts, link, probe and service
// failures, crashes and admin commands. Safety: at no time are both units
// active while heartbeats were delivered both ways within the last heartbeat
// timeout (on any paths). Liveness: after every calm spell (faults cleared,
// paths up, no loss, forced status reset) exactly one unit is active.
// Promptness: every path is declared down exactly one heartbeat timeout
// after its last heartbeat.
// SPEC: DET-1, DET-2, DET-7, ROLE-1, ROLE-2
func TestNeverTwoActivesProperty(t *testing.T) {
	seeds, simTime := 60, time.Minute
	if testing.Short() || raceBuild {
		seeds = 15
	}
	if *propSeeds > 0 {
		seeds = *propSeeds
	}
	steps := 0
	for seed := range uint64(seeds) {
		steps += runProperty(t, seed, simTime)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d seeds x %s simulated, %d machine steps", seeds, simTime, steps)
}

func runProperty(t *testing.T, seed uint64, simTime time.Duration) int {
	a, b := pairConfigs()
	s := newSim(a, b, seed)
	r := s.rng
	// random but shared timers and settings
	iv := []time.Duration{50, 100, 200}[r.IntN(3)] * time.Millisecond
	hold := time.Duration(r.IntN(3)) * time.Second
	trigger := 2 + r.IntN(3)
	for i, c := range []*Config{&a, &b} {
		c.HeartbeatInterval, c.TriggerLevel = iv, trigger
		c.ElectionDelay = time.Duration(r.IntN(2)) * time.Second
		c.Preempt, c.PreemptHoldTime = r.IntN(2) == 0, hold
		c.Hysteresis = r.IntN(25)
		c.ActiveIfEqual = []ActiveIfEqual{EqualAutomatic, EqualPrimary, EqualSecondary}[r.IntN(3)]
		c.ConfirmTakeover = r.IntN(2) == 0
		c.Interfaces = []Interface{
			{Name: "X1", Weight: r.IntN(200), Physical: r.IntN(2) == 0, Probe: r.IntN(2) == 0},
			{Name: "X2", Weight: r.IntN(200), Physical: r.IntN(2) == 0},
			{Name: "X3", Weight: 75, Probe: r.IntN(2) == 0},
		}
		if i == 1 {
			c.Interfaces = a.Interfaces
			c.ActiveIfEqual, c.Hysteresis = a.ActiveIfEqual, a.Hysteresis
		}
	}
	s = newSim(a, b, seed)
	r = s.rng
	timeout := iv * time.Duration(a.TriggerLevel)
	maxDelay := time.Duration(float64(iv) * *propDelay)
	s.delay = func() time.Duration { return time.Duration(r.Int64N(int64(maxDelay))) }
	s.ready = func() time.Duration { return time.Duration(r.Int64N(int64(2 * iv))) }
	s.loss = 0.05
	steps := 0
	// Every path is declared down at its deadline exactly: the units tick
	// at Machine.NextDeadline, as the engine does.
	wantDown := "no heartbeat for " + timeout.String()
	var seen [2]int
	s.check = func(s *sim) {
		steps++
		for i := range 2 {
			for _, o := range s.log[i][seen[i]:] {
				if e, ok := o.(Event); ok && e.Kind == EventPathDown && e.Detail != wantDown && !t.Failed() {
					t.Errorf("seed %d at %s: unit %d: path %s down with %q, want %q (late deadline)\n%s",
						seed, s.now.Sub(t0), i, e.Path, e.Detail, wantDown, strings.Join(s.trace, "\n"))
				}
			}
			seen[i] = len(s.log[i])
		}
		if t.Failed() || s.actives() < 2 {
			return
		}
		if s.now.Sub(s.deliv[0]) < timeout && s.now.Sub(s.deliv[1]) < timeout {
			t.Errorf("seed %d at %s: both active while heartbeats flow both ways (last %s, %s)\n%s",
				seed, s.now.Sub(t0), s.now.Sub(s.deliv[0]), s.now.Sub(s.deliv[1]), strings.Join(s.trace, "\n"))
		}
	}
	end := t0.Add(simTime)
	for s.now.Before(end) && !t.Failed() {
		if r.IntN(6) == 0 {
			// Liveness needs paths that are really up: the largest gap
			// between deliveries (interval + delay) below one timeout.
			calm(t, s, seed, timeout, iv, maxDelay < timeout-iv)
			continue
		}
		chaos(s)
		s.runFor(time.Duration(r.Int64N(int64(20 * iv))))
	}
	return steps
}

// chaos applies one random fault or command.
func chaos(s *sim) {
	r := s.rng
	i := r.IntN(2)
	switch k := r.IntN(12); k {
	case 0, 1:
		s.cutPath(r.IntN(2), r.IntN(2) == 0)
		if r.IntN(2) == 0 { // the other direction only
			p := r.IntN(2)
			s.cut[p][1] = true
		}
	case 2, 3:
		s.restorePath(r.IntN(2))
	case 4:
		port := []string{"X1", "X2", "X3"}[r.IntN(3)]
		s.setLink(i, port, LinkStatus{Up: r.IntN(2) == 0, ProbeOK: r.IntN(2) == 0})
	case 5:
		if !s.dead[i] {
			s.step(i, ServiceHealth{At: s.now, OK: r.IntN(3) != 0, Reason: "dataplane"})
		}
	case 6:
		if !s.dead[i] {
			cmd := []Command{CmdForceActive, CmdForceStandby, CmdReset, CmdFailover, CmdFailover}[r.IntN(5)]
			s.step(i, Admin{At: s.now, Cmd: cmd})
		}
	case 7:
		if s.dead[i] {
			s.start(i)
		} else if r.IntN(3) == 0 {
			s.crash(i)
		}
	case 8:
		if !s.dead[i] {
			s.step(i, BulkSync{At: s.now, Complete: r.IntN(3) != 0})
		}
	case 9:
		s.loss = []float64{0, 0.05, 0.3, 0.9}[r.IntN(4)]
	default:
		// let time pass
	}
}

// calm clears every fault, waits a bounded time and expects exactly one
// active unit.
func calm(t *testing.T, s *sim, seed uint64, timeout, iv time.Duration, check bool) {
	t.Helper()
	s.restorePath(0)
	s.restorePath(1)
	s.loss = 0
	for i := range 2 {
		if s.dead[i] {
			s.start(i)
		}
		s.links[i] = allUp(s.cfg[i].Interfaces)
		s.step(i, LocalLinks{At: s.now, Links: s.links[i]})
		s.step(i, ServiceHealth{At: s.now, OK: true})
		s.step(i, Admin{At: s.now, Cmd: CmdReset})
		s.step(i, BulkSync{At: s.now, Complete: true})
	}
	bound := s.cfg[0].ElectionDelay + s.cfg[0].PreemptHoldTime + 3*timeout + 20*iv
	s.runFor(bound)
	if n := s.actives(); check && n != 1 && !t.Failed() {
		for i := range 2 {
			if s.m[i] != nil {
				st := s.m[i].State()
				st.Peer.Links = nil
				t.Logf("unit %d: %+v cfg preempt=%v aie=%s\n peer=%+v", i, st, s.m[i].cfg.Preempt, s.m[i].cfg.ActiveIfEqual, *st.Peer)
			}
		}
		t.Errorf("seed %d at %s: %d active units %v %s after a calm spell of %s\n%s",
			seed, s.now.Sub(t0), n, s.roles(), fmt.Sprint(s.m[0].State().HandoverTo, s.m[1].State().HandoverTo), bound, strings.Join(s.trace, "\n"))
	}
}
