package store

import (
	"errors"
	"log/slog"
	"time"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// Validator checks a configuration before it becomes running. It returns
// warnings that do not stop the commit, or an error that does; the store
// wraps the error with %w, so callers can use errors.As on it. The
// validator gets a copy and must not keep it.
type Validator func(d *tandem.Device) (warnings []string, err error)

// DefaultMaxRevisions is the history length kept when Options.MaxRevisions
// is zero.
const DefaultMaxRevisions = 1000

// Options configures Open. The zero value is usable.
type Options struct {
	// Validate checks every configuration that is about to become
	// running. Nil means YANG schema validation only (model.Validate).
	Validate Validator
	// MaxRevisions is how many revisions the history keeps; older ones
	// are pruned (never the running revision nor the rollback target of
	// a pending confirmed commit). Zero means DefaultMaxRevisions.
	MaxRevisions int
	// Now is the clock for revision times and confirm deadlines; nil
	// means time.Now.
	Now func() time.Time
	// Logger receives commit, rollback and lock events; nil means
	// slog.Default().
	Logger *slog.Logger
	// Initial is the configuration committed as revision 1 (origin
	// "initial") when the database is created; nil means model.Default().
	// It is ignored when the database already exists.
	Initial *tandem.Device
}

func (o Options) withDefaults() Options {
	if o.Validate == nil {
		o.Validate = schemaValidator
	}
	if o.MaxRevisions <= 0 {
		o.MaxRevisions = DefaultMaxRevisions
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// schemaValidator is the default Validator: the YANG schema alone.
func schemaValidator(d *tandem.Device) ([]string, error) {
	return nil, errors.Join(model.Validate(d)...)
}
