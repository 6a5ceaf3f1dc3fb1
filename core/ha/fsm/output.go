package fsm

import "fmt"

// Output is something the engine must act on or record. The concrete types
// are RoleChange, Event, PrepareActive and SendHeartbeat.
type Output interface {
	output()
}

// Reason says why a role changed.
type Reason string

// The reasons for a role change.
const (
	ReasonActivePeer       Reason = "active peer found"
	ReasonNoPeer           Reason = "no peer found"
	ReasonStartupDone      Reason = "start-up window over"
	ReasonPeerDead         Reason = "peer dead"
	ReasonPeerYielded      Reason = "peer yielded the active role"
	ReasonServiceFault     Reason = "critical service failed"
	ReasonServiceRecovered Reason = "critical services recovered"
	ReasonForced           Reason = "forced standby"
	ReasonPeerForced       Reason = "peer forced active"
	ReasonAdminFailover    Reason = "admin failover"
	ReasonLinkMonitor      Reason = "monitored link down here, up on peer"
	ReasonProbeMonitor     Reason = "probe failed here, succeeds on peer"
	ReasonQuality          Reason = "peer quality better beyond hysteresis"
	ReasonPreempt          Reason = "preempt: primary takes the role back"
	ReasonPriority         Reason = "active-if-equal unit takes the role"
	ReasonDualActive       Reason = "peer also active"
	ReasonUnconfirmed      Reason = "peer timed out too and may be taking over"
)

// RoleChange is a role transition.
type RoleChange struct {
	// From and To are the old and new roles.
	From, To Role
	// Reason says why.
	Reason Reason
}

// EventKind names an entry of the HA event log (OBS-2).
type EventKind string

// The event kinds.
const (
	EventPeerLost        EventKind = "peer-lost"
	EventPeerJoined      EventKind = "peer-joined"
	EventPathDown        EventKind = "path-down"
	EventPathUp          EventKind = "path-up"
	EventQualityChange   EventKind = "quality-change"
	EventPreempt         EventKind = "preempt"
	EventFailSoft        EventKind = "fail-soft"
	EventRefuseToPair    EventKind = "refuse-to-pair"
	EventForced          EventKind = "forced"
	EventDualActive      EventKind = "dual-active"
	EventFailoverRefused EventKind = "failover-refused"
	EventTakeoverAborted EventKind = "takeover-aborted"
)

// Event is an entry for the HA event log.
type Event struct {
	// Kind names the event.
	Kind EventKind
	// Path is set for path-up and path-down.
	Path Path
	// Detail is a human-readable explanation.
	Detail string
}

// PrepareActive asks the engine to make the plugins ready for the active
// role and then step Ready (Config.ConfirmTakeover).
type PrepareActive struct {
	// Reason says why the unit is becoming active.
	Reason Reason
}

// SendHeartbeat says the advertised state changed: the engine should send a
// heartbeat (Advertise) now rather than at the next interval.
type SendHeartbeat struct{}

func (RoleChange) output()    {}
func (Event) output()         {}
func (PrepareActive) output() {}
func (SendHeartbeat) output() {}

// String renders the role change for logs and test failures.
func (r RoleChange) String() string {
	return fmt.Sprintf("%s->%s (%s)", r.From, r.To, r.Reason)
}

// String renders the event for logs and test failures.
func (e Event) String() string {
	s := string(e.Kind)
	if e.Path != "" {
		s += " " + string(e.Path)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}
