package stream

import "time"

// Event types, for the HA event log (OBS-2).
const (
	// EventPeerUp: the peer was heard (first contact, restart, or after silence).
	EventPeerUp = "sync-peer-up"
	// EventPeerDown: the peer was not heard for Config.PeerTimeout.
	EventPeerDown = "sync-peer-down"
	// EventBulkSendBegin: the active starts a bulk sync (SYNC-7).
	EventBulkSendBegin = "bulk-sync-sent-start"
	// EventBulkSendEnd: the standby acknowledged the whole bulk sync.
	EventBulkSendEnd = "bulk-sync-sent-end"
	// EventBulkReceiveBegin: the standby installs a bulk sync.
	EventBulkReceiveBegin = "bulk-sync-received-start"
	// EventBulkReceiveEnd: the standby installed a bulk sync and replaced its entries.
	EventBulkReceiveEnd = "bulk-sync-received-end"
	// EventResync: the active starts a new generation because of a loss, an overrun or a
	// request.
	EventResync = "sync-resync"
	// EventLoss: records were lost beyond recovery (a resync follows on the active).
	EventLoss = "sync-loss"
	// EventOverrun: a source reported missed changes, or the queue overflowed.
	EventOverrun = "sync-overrun"
	// EventError: a snapshot, apply or replace failed.
	EventError = "sync-error"
)

// Severities, as the core's event log names them.
const (
	SeverityInfo    = "info"
	SeverityWarning = "warning"
	SeverityError   = "error"
)

// Event is one entry for the HA event log.
type Event struct {
	Time     time.Time
	Type     string
	Severity string
	Message  string
}
