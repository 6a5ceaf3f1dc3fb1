package fsm

import "time"

// Input is something that happened, stamped with the time it happened. The
// concrete types are Tick, Heartbeat, LocalLinks, ServiceHealth, Admin,
// SetConfig, BulkSync and Ready.
type Input interface {
	at() time.Time
}

// Tick is the passing of time; the engine steps one at every
// Machine.NextDeadline, so that missed heartbeats are noticed on time, and
// at least one per heartbeat interval.
type Tick struct {
	// At is when it happened.
	At time.Time
}

// Heartbeat is an authenticated heartbeat from the peer on one path.
type Heartbeat struct {
	// At is when the heartbeat came.
	At time.Time
	// Path is the path it came on.
	Path Path
	// Peer is its authenticated content.
	Peer PeerState
}

// LocalLinks is this unit's current link and probe results for the
// monitored ports. Ports missing from the map count as down.
type LocalLinks struct {
	// At is when the results were taken.
	At time.Time
	// Links are the results per monitored port.
	Links Links
}

// ServiceHealth reports the critical service checks (DET-5): a failing
// critical service makes this unit faulted.
type ServiceHealth struct {
	// At is when the checks ran.
	At time.Time
	// OK says every critical service is healthy.
	OK bool
	// Reason names what failed.
	Reason string
}

// Admin is an admin command.
type Admin struct {
	// At is when the command was given.
	At time.Time
	// Cmd is the command.
	Cmd Command
}

// SetConfig replaces the configuration. A change of Config.Forced replaces
// the forced status; otherwise a forced status set by Admin stays.
type SetConfig struct {
	// At is when the configuration was committed.
	At time.Time
	// Config is the new configuration.
	Config Config
}

// BulkSync reports whether this unit's stateful bulk sync is complete.
type BulkSync struct {
	// At is when the sync state changed.
	At time.Time
	// Complete says the bulk sync is complete.
	Complete bool
}

// Ready confirms that the plugins are ready after PrepareActive.
type Ready struct {
	// At is when it happened.
	At time.Time
}

func (i Tick) at() time.Time          { return i.At }
func (i Heartbeat) at() time.Time     { return i.At }
func (i LocalLinks) at() time.Time    { return i.At }
func (i ServiceHealth) at() time.Time { return i.At }
func (i Admin) at() time.Time         { return i.At }
func (i SetConfig) at() time.Time     { return i.At }
func (i BulkSync) at() time.Time      { return i.At }
func (i Ready) at() time.Time         { return i.At }
