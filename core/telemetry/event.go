package telemetry

import (
	"fmt"
	"time"
)

// Event severities, as the YANG typedef tandem-system:severity names them.
const (
	// SeverityInfo is an informational event.
	SeverityInfo = "info"
	// SeverityWarning is an event that needs attention.
	SeverityWarning = "warning"
	// SeverityError is an event where something failed.
	SeverityError = "error"
)

// Event is one entry of the HA event log (OBS-2).
type Event struct {
	// Seq is the event's number, assigned by Append: 1, 2, 3, ... and
	// continuing across restarts.
	Seq uint64 `json:"seq"`
	// Time is when the event happened; Append sets it when zero.
	Time time.Time `json:"time"`
	// Type is the kind of event, such as role-change, peer-lost,
	// peer-joined, bulk-sync-start, link-down, quality-change, commit.
	Type string `json:"type"`
	// Severity is info, warning or error; Append sets info when empty.
	Severity string `json:"severity"`
	// Message says what happened, for a person.
	Message string `json:"message"`
	// Attrs are structured details (peer, old and new role, ...). They are
	// persisted and delivered to subscribers but have no place in the YANG
	// model, so the state tree does not carry them.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// check fills defaults and reports what is wrong with e.
func (e *Event) check() error {
	if e.Type == "" {
		return fmt.Errorf("event has no type; set Type, such as role-change")
	}
	switch e.Severity {
	case "":
		e.Severity = SeverityInfo
	case SeverityInfo, SeverityWarning, SeverityError:
	default:
		return fmt.Errorf("event %s: severity %q is not one of info, warning, error", e.Type, e.Severity)
	}
	return nil
}

// eventPath returns the state tree path of event seq, or of its leaf.
func eventPath(seq uint64, leaf string) string {
	p := fmt.Sprintf("/system/events/event[sequence=%d]", seq)
	if leaf != "" {
		p += "/" + leaf
	}
	return p
}
