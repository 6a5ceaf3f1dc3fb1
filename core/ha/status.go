package ha

import (
	"context"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
)

// Status is the HA pair as `tandemctl ha status` shows it (OBS-1): this
// unit, its peer as its last heartbeat described it, each path, and the
// datagrams refused.
type Status struct {
	// Running is false when HA does not run; Reason says why.
	Running bool   `json:"running"`
	Reason  string `json:"reason,omitempty"`
	// Self and Peer describe the two members.
	Self Member  `json:"self"`
	Peer *Member `json:"peer,omitempty"`
	// Degraded and Refused report a firmware (fail-soft) or model
	// mismatch (MODE-5), with PairReason.
	Degraded   bool   `json:"degraded,omitempty"`
	Refused    bool   `json:"refused,omitempty"`
	PairReason string `json:"pair_reason,omitempty"`
	// Paths are the heartbeat paths.
	Paths []PathStatus `json:"paths"`
	// Counters count refused datagrams.
	Counters Counters `json:"counters"`
}

// Member is one unit of the pair.
type Member struct {
	Serial         string    `json:"serial"`
	Designation    string    `json:"designation"`
	Role           string    `json:"role"`
	Since          time.Time `json:"since,omitempty"`
	Quality        int       `json:"quality"`
	Priority       int       `json:"priority"`
	Forced         string    `json:"forced"`
	Model          string    `json:"model,omitempty"`
	Firmware       string    `json:"firmware,omitempty"`
	ConfigRevision uint64    `json:"config_revision,omitempty"`
	BulkSync       bool      `json:"bulk_sync_complete"`
}

// PathStatus is one heartbeat path.
type PathStatus struct {
	Name          string        `json:"name"`
	Local         string        `json:"local"`
	Peer          string        `json:"peer"`
	Up            bool          `json:"up"`
	LastHeartbeat time.Time     `json:"last_heartbeat,omitempty"`
	RTT           time.Duration `json:"rtt_ns"`
}

// Status reports the pair; it is answered by the engine's goroutine.
func (e *Engine) Status(ctx context.Context) Status {
	reply := make(chan Status, 1)
	select {
	case e.statusQ <- reply:
	case <-ctx.Done():
		return Status{Reason: ctx.Err().Error()}
	case <-e.done:
		return Status{Reason: "the HA engine stopped"}
	}
	select {
	case s := <-reply:
		return s
	case <-ctx.Done():
		return Status{Reason: ctx.Err().Error()}
	}
}

// snapshot builds the Status; called on the engine's goroutine.
func (e *Engine) snapshot() Status {
	if e.machine == nil {
		return Status{Reason: e.reason}
	}
	s := e.machine.State()
	st := Status{
		Running: true, Degraded: s.Degraded, Refused: s.Refused, PairReason: s.Reason, Counters: e.counters,
		Self: Member{
			Serial: s.Serial, Designation: string(s.Designation), Role: string(s.Role), Since: s.Since,
			Quality: s.Quality, Priority: s.Priority, Forced: string(s.Forced),
			Model: e.setup.machine.Model, Firmware: e.setup.machine.Firmware, BulkSync: s.BulkSyncComplete,
		},
	}
	if p := s.Peer; p != nil {
		st.Peer = &Member{
			Serial: p.Serial, Designation: string(p.Designation), Role: string(p.Role),
			Quality: p.Quality, Priority: p.Priority, Forced: string(p.Forced),
			Model: p.Model, Firmware: p.Firmware, ConfigRevision: p.ConfigRevision, BulkSync: p.BulkSyncComplete,
		}
	}
	for i, p := range e.setup.paths {
		ps := PathStatus{Name: string(p.name), Local: p.local.String(), Peer: p.peer.String(),
			Up: s.Paths[p.name].Up, LastHeartbeat: s.Paths[p.name].LastHeartbeat}
		if i < len(e.paths) {
			ps.RTT = time.Duration(e.paths[i].rttMicros) * time.Microsecond
		}
		st.Paths = append(st.Paths, ps)
	}
	return st
}

// Commands are the admin commands `tandemctl ha` accepts (ROLE-4).
var Commands = []fsm.Command{fsm.CmdForceActive, fsm.CmdForceStandby, fsm.CmdReset, fsm.CmdFailover}
