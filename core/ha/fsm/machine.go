package fsm

import (
	"fmt"
	"time"
)

// Machine is one unit's HA state machine. It is not safe for concurrent use;
// the engine steps it from one goroutine.
type Machine struct {
	cfg  Config
	boot time.Time
	now  time.Time

	role       Role
	since      time.Time
	forced     Forced
	links      Links
	serviceOK  bool
	serviceWhy string
	syncDone   bool
	quality    int

	activating bool   // PrepareActive sent, waiting for Ready
	activateBy Reason // why we are becoming active
	handoverTo string // serial of the peer we step down for, while it takes over
	handoverAt uint64 // first Seq advertised in handover mode
	byTimeout  bool   // became active because the peer was dead or absent
	activeFrom uint64 // first Seq advertised in the current active stint

	seq          uint64 // last Seq advertised
	lastYieldSeq uint64 // last Seq advertised with Yield

	peer       PeerState // latest heartbeat content, by (Boot, Seq)
	peerKnown  bool
	peerAlive  bool
	paths      map[Path]*pathState
	peerGood   bool // peer is a healthy standby
	goodSince  time.Time
	refused    bool   // model mismatch (MODE-5)
	degraded   bool   // firmware mismatch (MODE-5)
	pairReason string // why refused or degraded
}

type pathState struct {
	seen bool
	up   bool
	last time.Time
}

// New returns a machine that starts initializing at now (ROLE-2); now is
// also this incarnation's Boot.
func New(cfg Config, now time.Time) *Machine {
	cfg = cfg.normalized()
	m := &Machine{
		cfg: cfg, boot: now, now: now,
		role: RoleInitializing, since: now,
		forced: cfg.Forced, links: Links{},
		serviceOK: true, syncDone: !cfg.StatefulSync,
		paths: map[Path]*pathState{},
	}
	for _, p := range Paths {
		m.paths[p] = &pathState{}
	}
	m.quality = m.computeQuality()
	return m
}

// Step takes one input in and returns what the engine must do. Inputs older
// than the last one are taken as happening at the last one's time.
func (m *Machine) Step(in Input) []Output {
	if t := in.at(); t.After(m.now) {
		m.now = t
	}
	var out []Output
	before := m.advertKey()
	switch v := in.(type) {
	case Tick:
	case Heartbeat:
		out = m.onHeartbeat(v, out)
	case LocalLinks:
		m.links = v.Links.clone()
	case ServiceHealth:
		m.serviceOK, m.serviceWhy = v.OK, v.Reason
	case Admin:
		out = m.onAdmin(v.Cmd, out)
	case SetConfig:
		out = m.onConfig(v.Config, out)
	case BulkSync:
		m.syncDone = v.Complete
	case Ready:
		out = m.onReady(out)
	}
	out = m.evaluate(out)
	if m.advertKey() != before {
		out = append(out, SendHeartbeat{})
	}
	return out
}

// Advertise returns the payload of the next heartbeat round and numbers it;
// call it once per round and send the result on every path.
func (m *Machine) Advertise() PeerState {
	m.seq++
	p := m.self()
	p.Seq = m.seq
	if p.Yield {
		m.lastYieldSeq = m.seq
	}
	return p
}

// self describes this unit as its heartbeats do, without a Seq.
func (m *Machine) self() PeerState {
	p := PeerState{
		Serial: m.cfg.Serial, Designation: m.cfg.Designation,
		Model: m.cfg.Model, Firmware: m.cfg.Firmware, Boot: m.boot,
		Role: m.role, Quality: m.quality, Priority: m.cfg.priority(), Forced: m.forced,
		BulkSyncComplete: m.syncDone, Links: m.links.clone(), Yield: m.wantYield(),
	}
	if m.peerKnown {
		p.Ack, p.AckBoot = m.peer.Seq, m.peer.Boot
	}
	return p
}

// advertKey is a fingerprint of what the peer should learn about quickly.
func (m *Machine) advertKey() string {
	p := m.self()
	return fmt.Sprint(p.Role, p.Quality, p.Priority, p.Forced, p.BulkSyncComplete, p.Yield, p.Links)
}

func (m *Machine) setRole(to Role, why Reason, out []Output) []Output {
	if to == m.role {
		return out
	}
	out = append(out, RoleChange{From: m.role, To: to, Reason: why})
	m.role, m.since = to, m.now
	if to == RoleActive {
		m.activeFrom = m.seq + 1
		m.byTimeout = why == ReasonPeerDead || why == ReasonNoPeer
	}
	if to != RoleStandby && to != RoleFaulted {
		m.handoverTo = ""
	}
	return out
}

func (m *Machine) computeQuality() int {
	if !m.serviceOK {
		return 0
	}
	return Quality(m.cfg.Interfaces, m.links)
}
