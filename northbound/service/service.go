// Package service is what every northbound API serves from: the
// datastore, the state tree and event log, the HA engine and the
// configuration sync, the users, and the operations of the
// tandem-operations YANG module with the rules on who may run them
// (user role) and where (HA role, CFG-1 and CLU-11). REST, NETCONF, gNMI
// and the local socket API decode their protocol, authenticate the
// caller, and call Backend; none of them decides policy.
package service

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strconv"
	"time"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/configsync"
	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/northbound/auth"
)

// Backend is the daemon as the northbound APIs see it.
type Backend struct {
	Store  *store.Store
	Tree   *telemetry.Tree
	Events *telemetry.EventLog
	// Status returns the unit summary.
	Status func() Status
	// HA is the pair engine.
	HA HA
	// Sync is the configuration sync between the members.
	Sync Sync
	// Join makes this unit a member of a pair (CFG-8) and names the
	// active it joined.
	Join func(ctx context.Context, req JoinRequest) (string, error)
	// Upgrade installs a new firmware image and restarts the daemon into
	// it (CFG-5, CFG-6); nil refuses upgrades.
	Upgrade func(ctx context.Context, image string) (UpgradeOutput, error)
	// MayConfigure refuses configuration changes on a unit that must not
	// take them (a standby, CFG-1); nil allows them.
	MayConfigure func() error
	// Auth checks the credentials of REST, NETCONF and gNMI callers.
	Auth *auth.Authenticator
	// TLS is the server certificate REST and gNMI present.
	TLS *tls.Config
	// Firmware is this unit's software version.
	Firmware string
	Logger   *slog.Logger
}

// HA is what the northbound APIs need of the pair engine.
type HA interface {
	Status(ctx context.Context) ha.Status
	Admin(cmd fsm.Command) error
}

// Sync is what the northbound APIs need of the configuration sync.
type Sync interface {
	SyncNow(ctx context.Context) (configsync.Outcome, error)
	Test(ctx context.Context) (configsync.TestResult, error)
	Diff(ctx context.Context) (string, []model.Change, error)
	PushFirmware(ctx context.Context) error
}

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

// CheckConfigure refuses a configuration change by p, naming what was
// asked: an *auth.ForbiddenError for the user's role, a *RefusedError on
// a unit that takes no configuration (a standby, CFG-1).
func (b *Backend) CheckConfigure(p auth.Principal, what string) error {
	if err := p.Check(auth.Configure, what); err != nil {
		return err
	}
	if b.MayConfigure != nil {
		if err := b.MayConfigure(); err != nil {
			return &RefusedError{What: what, Reason: err.Error()}
		}
	}
	return nil
}

// Meta is the revision metadata of a commit by p through origin (rest,
// netconf, gnmi, cli).
func Meta(p auth.Principal, origin, comment string) store.Meta {
	return store.Meta{Author: p.User, Comment: comment, Origin: origin}
}

// Config returns the configuration name denotes in st: running, candidate
// or a revision number of the history. Any other name is a KindInvalid
// error; a revision not in the history is store.ErrNoSuchRevision.
func Config(st *store.Store, name string) (*tandem.Device, error) {
	switch name {
	case "running":
		d, _ := st.Running()
		return d, nil
	case "candidate":
		return st.Candidate(), nil
	}
	id, err := strconv.ParseUint(name, 10, 64)
	if err != nil {
		return nil, Errorf(KindInvalid, "%q: use running, candidate or a revision number", name)
	}
	d, _, err := st.Revision(id)
	return d, err
}
