package fsm

import "time"

// PeerState is the content of a heartbeat: what a unit says about itself.
// Advertise builds ours; Heartbeat carries the peer's.
type PeerState struct {
	// Serial is the sender's serial number.
	Serial string
	// Designation is the sender's designation.
	Designation Designation
	// Model and Firmware are the sender's model and firmware (MODE-5).
	Model, Firmware string
	// Boot identifies the sender's incarnation; it must grow across
	// restarts. Together with Seq it orders heartbeats.
	Boot time.Time
	// Seq numbers the sender's heartbeat rounds within one incarnation; the
	// same round goes out on every path.
	Seq uint64
	// Role is the sender's role.
	Role Role
	// Quality is the sender's quality factor in percent (DET-6).
	Quality int
	// Priority is 50 for the active-if-equal unit, else 0 (ROLE-5).
	Priority int
	// Forced is the sender's forced status (ROLE-4).
	Forced Forced
	// ConfigRevision is the sender's running configuration revision.
	ConfigRevision uint64
	// BulkSyncComplete says the sender holds a complete copy of the state.
	BulkSyncComplete bool
	// Links are the sender's monitored link and probe results.
	Links Links
	// Yield says the sender, not active, lets the receiver become active
	// (see the package documentation).
	Yield bool
	// Ack is the highest Seq the sender has taken in from the receiver's
	// incarnation AckBoot.
	Ack uint64
	// AckBoot is the receiver's incarnation (Boot) that Ack refers to.
	AckBoot time.Time
}

// newerThan says whether p is a later heartbeat of the same peer than q, or
// comes from another peer (a replaced unit).
func (p PeerState) newerThan(q PeerState) bool {
	switch {
	case p.Serial != q.Serial:
		return true
	case !p.Boot.Equal(q.Boot):
		return p.Boot.After(q.Boot)
	default:
		return p.Seq > q.Seq
	}
}

// eligible says whether the unit described by p may hold the active role.
func (p PeerState) eligible() bool {
	return (p.Role == RoleStandby || p.Role == RoleActive) && p.Forced != ForcedStandby
}

func (p PeerState) clone() PeerState {
	p.Links = p.Links.clone()
	return p
}
