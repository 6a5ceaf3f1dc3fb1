// Package local serves tandem's local management API: JSON over HTTP on a
// unix socket, used by tandemctl on the unit itself. Requests are
// attributed to the calling Unix user (SO_PEERCRED), recorded as the
// author of every revision they commit.
package local

import (
	"encoding/json"
	"time"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
)

// Status is the unit summary `tandemctl status` prints.
type Status struct {
	Unit           string             `json:"unit"`
	SerialNumber   string             `json:"serial_number"`
	Version        string             `json:"version"`
	BootTime       time.Time          `json:"boot_time"`
	Mode           string             `json:"mode"`
	Role           string             `json:"role"`
	Running        store.RevisionInfo `json:"running"`
	CandidateDirty bool               `json:"candidate_dirty"`
	Plugins        []PluginStatus     `json:"plugins"`
	RecentEvents   []telemetry.Event  `json:"recent_events,omitempty"`
}

// PluginStatus is one plugin's process state and reconcile condition.
type PluginStatus struct {
	Name            string    `json:"name"`
	Kind            string    `json:"kind"`
	Version         string    `json:"version"`
	PID             int       `json:"pid"`
	State           string    `json:"state"`
	Restarts        int       `json:"restarts"`
	AppliedRevision uint64    `json:"applied_revision"`
	AppliedRole     string    `json:"applied_role,omitempty"`
	LastApplied     time.Time `json:"last_applied,omitempty"`
	LastError       string    `json:"last_error,omitempty"`
}

// SetRequest sets one node of the candidate configuration.
type SetRequest struct {
	// Path is the node, such as /ha/config/mode.
	Path string `json:"path"`
	// Value is its RFC 7951 JSON value, such as "active-standby" or 200.
	Value json.RawMessage `json:"value"`
}

// DeleteRequest removes one node of the candidate configuration.
type DeleteRequest struct {
	// Path is the node to remove.
	Path string `json:"path"`
}

// CommitRequest commits the candidate.
type CommitRequest struct {
	// Comment is recorded with the revision.
	Comment string `json:"comment,omitempty"`
	// ConfirmTimeout, when set, makes this a confirmed commit that is
	// rolled back unless confirmed in time (Go duration, such as "2m").
	ConfirmTimeout string `json:"confirm_timeout,omitempty"`
}

// RollbackRequest makes the configuration of N commits ago running again.
type RollbackRequest struct {
	// N counts back from the running revision; 1 is the previous one.
	N int `json:"n"`
	// Comment is recorded with the new revision.
	Comment string `json:"comment,omitempty"`
}

// ErrorBody is every error response: what was wrong and, for a refused
// commit, each validation issue with its YANG path, rule and fix.
type ErrorBody struct {
	Error  string           `json:"error"`
	Issues []validate.Issue `json:"issues,omitempty"`
}

// DiffResponse lists the leaves that differ between two configurations.
type DiffResponse struct {
	From    string         `json:"from"`
	To      string         `json:"to"`
	Changes []model.Change `json:"changes"`
}

// JoinRequest makes a new unit a member of a pair (CFG-8).
type JoinRequest struct {
	// Peer is the active member's HA control address (port 8734 unless
	// given).
	Peer string `json:"peer"`
	// Key is the pair's pre-shared key.
	Key string `json:"key"`
	// Port and Address are this unit's HA control port and its address
	// on the link, such as X2 and 169.254.10.2/29.
	Port    string `json:"port"`
	Address string `json:"address"`
}
