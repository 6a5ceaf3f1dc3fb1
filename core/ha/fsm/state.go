package fsm

import "time"

// State is the machine's status for `tandemctl ha status` and the state
// tree (OBS-1).
type State struct {
	// Serial, Designation and Role identify the unit and its role.
	Serial      string
	Designation Designation
	Role        Role
	// Since is when the unit took its current role.
	Since time.Time
	// Quality is the quality factor in percent (DET-6).
	Quality int
	// Priority is 50 for the active-if-equal unit, else 0 (ROLE-5).
	Priority int
	// Forced is the forced status (ROLE-4).
	Forced Forced
	// ServiceOK and ServiceReason are the last critical service result.
	ServiceOK     bool
	ServiceReason string
	// BulkSyncComplete is this unit's stateful bulk sync status.
	BulkSyncComplete bool
	// Degraded is set in fail-soft mode (firmware mismatch); Refused when
	// the models differ and the pair does not form. Reason says why.
	Degraded bool
	Refused  bool
	Reason   string
	// PendingActive is set between PrepareActive and Ready.
	PendingActive bool
	// HandoverTo is the serial of the peer this unit stepped down for,
	// while that peer takes over.
	HandoverTo string
	// Paths is the liveness of each heartbeat path (DET-2).
	Paths map[Path]PathState
	// PeerAlive says a heartbeat came within one timeout on some path.
	PeerAlive bool
	// Peer is the latest heartbeat content, nil before the first.
	Peer *PeerState
}

// PathState is one heartbeat path's liveness.
type PathState struct {
	// Up says a heartbeat came within one heartbeat timeout.
	Up bool
	// LastHeartbeat is when the last heartbeat came; zero if never.
	LastHeartbeat time.Time
}

// State returns the current status.
func (m *Machine) State() State {
	s := State{
		Serial: m.cfg.Serial, Designation: m.cfg.Designation,
		Role: m.role, Since: m.since, Quality: m.quality, Priority: m.cfg.priority(),
		Forced: m.forced, ServiceOK: m.serviceOK, ServiceReason: m.serviceWhy,
		BulkSyncComplete: m.syncDone, Degraded: m.degraded, Refused: m.refused,
		Reason: m.pairReason, PendingActive: m.activating, HandoverTo: m.handoverTo,
		Paths: map[Path]PathState{}, PeerAlive: m.peerAlive,
	}
	for p, ps := range m.paths {
		s.Paths[p] = PathState{Up: ps.up, LastHeartbeat: ps.last}
	}
	if m.peerKnown {
		p := m.peer.clone()
		s.Peer = &p
	}
	return s
}

// Role returns the current role.
func (m *Machine) Role() Role { return m.role }
