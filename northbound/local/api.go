// Package local serves tandem's local management API: JSON over HTTP on a
// unix socket, used by tandemctl on the unit itself. Requests are
// attributed to the calling Unix user (SO_PEERCRED), recorded as the
// author of every revision they commit.
package local

import (
	"encoding/json"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/validate"
)

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
