package fsm

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"
)

// sim connects two machines by two heartbeat paths with delays, loss and
// cuts, and drives their timers. Unit 0 is the primary "S1", unit 1 the
// secondary "S2". Everything is deterministic for a given rand source.
type sim struct {
	now   time.Time
	cfg   [2]Config
	m     [2]*Machine
	dead  [2]bool      // crashed: no timers, no traffic
	links [2]Links     // each unit's link and probe results
	cut   [2][2]bool   // [path][direction] direction 0: 0->1
	deliv [2]time.Time // last delivery per direction, any path
	armed [2]time.Time // each unit's deadline timer (Machine.NextDeadline)
	loss  float64      // probability a heartbeat is lost on a path
	delay func() time.Duration
	ready func() time.Duration
	rng   *rand.Rand
	q     evq
	n     int
	trace []string
	check func(s *sim) // called after every machine step
	log   [2][]Output
}

type ev struct {
	t  time.Time
	n  int
	fn func()
}

type evq []ev

func (q evq) Len() int { return len(q) }
func (q evq) Less(i, j int) bool {
	return q[i].t.Before(q[j].t) || (q[i].t.Equal(q[j].t) && q[i].n < q[j].n)
}
func (q evq) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *evq) Push(x any)   { *q = append(*q, x.(ev)) }
func (q *evq) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

var paths = [2]Path{PathControl, PathBackup}

func newSim(a, b Config, seed uint64) *sim {
	s := &sim{now: t0, cfg: [2]Config{a, b}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	s.delay = func() time.Duration { return time.Millisecond }
	s.ready = func() time.Duration { return 5 * time.Millisecond }
	for i := range 2 {
		s.links[i] = allUp(s.cfg[i].Interfaces)
		s.start(i)
	}
	return s
}

func (s *sim) at(t time.Time, fn func()) {
	s.n++
	heap.Push(&s.q, ev{t: t, n: s.n, fn: fn})
}

// start boots unit i now and arms its timers.
func (s *sim) start(i int) {
	s.dead[i] = false
	m := New(s.cfg[i], s.now)
	s.m[i] = m
	s.step(i, LocalLinks{At: s.now, Links: s.links[i]})
	iv := s.m[i].cfg.HeartbeatInterval
	var beat, tick func()
	beat = func() {
		if s.m[i] != m || s.dead[i] {
			return
		}
		s.send(i)
		s.at(s.now.Add(iv), beat)
	}
	// As the engine does: a Tick at every NextDeadline (armed in step)
	// and, as a safety net only, one every heartbeat interval.
	tick = func() {
		if s.m[i] != m || s.dead[i] {
			return
		}
		s.step(i, Tick{At: s.now})
		s.at(s.now.Add(iv), tick)
	}
	s.at(s.now, beat)
	s.at(s.now.Add(iv), tick)
}

func (s *sim) crash(i int) { s.dead[i] = true; s.m[i] = nil }

// send advertises unit i's state on both paths.
func (s *sim) send(i int) {
	if s.dead[i] {
		return
	}
	hb := s.m[i].Advertise()
	j := 1 - i
	for pi, p := range paths {
		if s.cut[pi][i] || s.rng.Float64() < s.loss {
			continue
		}
		s.at(s.now.Add(s.delay()), func() {
			if s.dead[j] || s.cut[pi][i] {
				return
			}
			s.deliv[i] = s.now
			s.step(j, Heartbeat{At: s.now, Path: p, Peer: hb})
		})
	}
}

func (s *sim) step(i int, in Input) {
	m := s.m[i]
	out := m.Step(in)
	s.log[i] = append(s.log[i], out...)
	for _, o := range out {
		switch o.(type) {
		case SendHeartbeat:
			s.at(s.now, func() {
				if s.m[i] == m {
					s.send(i)
				}
			})
		case PrepareActive:
			s.at(s.now.Add(s.ready()), func() {
				if s.m[i] == m && !s.dead[i] {
					s.step(i, Ready{At: s.now})
				}
			})
		}
		s.tracef("%d %v", i, o)
	}
	// One deadline timer per unit, re-armed when the deadline moves.
	if d := m.NextDeadline(); !d.IsZero() && !d.Equal(s.armed[i]) {
		s.armed[i] = d
		s.at(d, func() {
			if s.m[i] == m && !s.dead[i] && s.armed[i].Equal(d) {
				s.step(i, Tick{At: s.now})
			}
		})
	}
	if s.check != nil {
		s.check(s)
	}
}

func (s *sim) tracef(f string, a ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%s ", s.now.Sub(t0))+fmt.Sprintf(f, a...))
	if len(s.trace) > 80 {
		s.trace = s.trace[len(s.trace)-60:]
	}
}

// run processes events up to and including time t.
func (s *sim) run(t time.Time) {
	for len(s.q) > 0 && !s.q[0].t.After(t) {
		e := heap.Pop(&s.q).(ev)
		s.now = e.t
		e.fn()
	}
	s.now = t
}

// runFor runs d more.
func (s *sim) runFor(d time.Duration) { s.run(s.now.Add(d)) }

func (s *sim) setLink(i int, port string, st LinkStatus) {
	s.links[i] = s.links[i].clone()
	s.links[i][port] = st
	if !s.dead[i] {
		s.step(i, LocalLinks{At: s.now, Links: s.links[i]})
	}
}

func (s *sim) cutPath(p int, both bool) {
	s.cut[p][0] = true
	if both {
		s.cut[p][1] = true
	}
}

func (s *sim) restorePath(p int) { s.cut[p] = [2]bool{} }

func (s *sim) role(i int) Role {
	if s.dead[i] {
		return "dead"
	}
	return s.m[i].Role()
}

func (s *sim) roles() [2]Role { return [2]Role{s.role(0), s.role(1)} }

func (s *sim) actives() int {
	n := 0
	for i := range 2 {
		if s.role(i) == RoleActive {
			n++
		}
	}
	return n
}

func pairConfigs() (Config, Config) {
	return testConfig("S1", Primary), testConfig("S2", Secondary)
}
