package store

import (
	"time"
)

// Origins of a revision: the northbound API or internal action that made it.
const (
	// OriginCLI is tandemctl.
	OriginCLI = "cli"
	// OriginREST is the REST API.
	OriginREST = "rest"
	// OriginNETCONF is NETCONF.
	OriginNETCONF = "netconf"
	// OriginGNMI is gNMI Set.
	OriginGNMI = "gnmi"
	// OriginSync is configuration sync from the HA peer.
	OriginSync = "sync"
	// OriginRollback is Rollback or CancelConfirmed.
	OriginRollback = "rollback"
	// OriginConfirmTimeout is the automatic rollback of an unconfirmed
	// confirmed commit.
	OriginConfirmTimeout = "confirm-timeout"
	// OriginInitial is revision 1, written when the database is created.
	OriginInitial = "initial"
)

// Meta describes who makes a change, why, and through which API.
type Meta struct {
	// Author is the user name.
	Author string
	// Comment is free text shown in the history.
	Comment string
	// Origin is one of the Origin constants (cli, rest, netconf, gnmi,
	// sync, rollback, confirm-timeout, initial).
	Origin string
}

// RevisionInfo describes one revision of the running configuration.
type RevisionInfo struct {
	// ID numbers revisions from 1, increasing, never reused.
	ID uint64 `json:"id"`
	// Time is when the revision became running.
	Time time.Time `json:"time"`
	// Author is the user who made it.
	Author string `json:"author,omitempty"`
	// Comment is the commit comment.
	Comment string `json:"comment,omitempty"`
	// Origin is the API or action that made it (see Meta.Origin).
	Origin string `json:"origin,omitempty"`
	// Warnings are the validator's warnings at commit time.
	Warnings []string `json:"warnings,omitempty"`
	// PendingConfirm is true while the revision is running under a
	// confirmed commit that has not been confirmed yet: it will be rolled
	// back unless confirmed in time. Computed when read, not stored.
	PendingConfirm bool `json:"pending_confirm"`
}
