// Package reconcile is tandem's level-triggered reconciler. From the
// running configuration and the unit's HA role it computes one intent per
// plugin (the complete desired state, never a delta) and hands it to the
// plugin. It re-applies when the configuration or the role changes, when
// a plugin (re)starts, after a failed apply (with backoff) and
// periodically, so drift in the kernel is corrected. Plugins apply
// idempotently: an intent applied twice changes nothing the second time.
package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Applier hands intents to plugins: the plugin host.
type Applier interface {
	Apply(ctx context.Context, plugin string, intent *sdk.Intent) (*sdk.ApplyResult, error)
}

// Plugin names a plugin the reconciler drives and what it does.
type Plugin struct {
	Name string
	Kind sdk.Kind
}

// Condition is the status of one plugin's reconciliation.
type Condition struct {
	// AppliedRevision is the configuration revision last applied without error.
	AppliedRevision uint64
	// AppliedRole is the role of that intent.
	AppliedRole fsm.Role
	// LastApplied is when it was applied.
	LastApplied time.Time
	// LastError is the error of the last attempt, empty after a success.
	LastError string
	// Changes counts the kernel changes the plugin reported in all applies.
	Changes uint64
	// Failures counts consecutive failed attempts.
	Failures int
}

// StateSink receives the reconciler's status conditions: the state tree.
type StateSink interface {
	Update(path string, value any) error
}

// Config assembles a Reconciler.
type Config struct {
	Applier Applier
	// Plugins lists the plugins currently known to the host.
	Plugins func() []Plugin
	Self    Identity
	State   StateSink
	Logger  *slog.Logger
	// Resync, when set, fixes how often every intent is re-applied to
	// correct drift; zero follows /system/config/reconcile-interval.
	Resync time.Duration
	// RetryMin and RetryMax bound the backoff after a failed apply.
	RetryMin, RetryMax time.Duration
}

// Reconciler drives every plugin toward the intent of the running
// configuration and the current role.
type Reconciler struct {
	cfg Config

	mu         sync.Mutex
	dev        *tandem.Device
	configJSON []byte
	revision   uint64
	role       fsm.Role
	queue      map[string]bool
	conds      map[string]*Condition
	retry      map[string]*time.Timer

	wake chan struct{}
}

// New returns a reconciler; Run starts it.
func New(cfg Config) *Reconciler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 500 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Second
	}
	return &Reconciler{
		cfg:   cfg,
		role:  fsm.RoleInitializing,
		queue: map[string]bool{},
		conds: map[string]*Condition{},
		retry: map[string]*time.Timer{},
		wake:  make(chan struct{}, 1),
	}
}

// SetConfig gives the reconciler a new running configuration; every
// plugin is reconciled.
func (r *Reconciler) SetConfig(d *tandem.Device, revision uint64) error {
	raw, err := model.Encode(d)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	r.mu.Lock()
	r.dev, r.configJSON, r.revision = d, raw, revision
	r.mu.Unlock()
	r.EnqueueAll()
	return nil
}

// SetRole gives the reconciler the unit's new HA role; every plugin is
// reconciled.
func (r *Reconciler) SetRole(role fsm.Role) {
	r.mu.Lock()
	changed := r.role != role
	r.role = role
	r.mu.Unlock()
	if changed {
		r.EnqueueAll()
	}
}

// Role returns the role the reconciler applies.
func (r *Reconciler) Role() fsm.Role {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.role
}

// Enqueue asks for one plugin to be reconciled, as when it (re)started.
func (r *Reconciler) Enqueue(plugin string) {
	r.mu.Lock()
	r.queue[plugin] = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// EnqueueAll asks for every known plugin to be reconciled.
func (r *Reconciler) EnqueueAll() {
	for _, p := range r.cfg.Plugins() {
		r.Enqueue(p.Name)
	}
}

// Conditions returns a copy of every plugin's condition.
func (r *Reconciler) Conditions() map[string]Condition {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Condition, len(r.conds))
	for k, v := range r.conds {
		out[k] = *v
	}
	return out
}

// Run reconciles until ctx ends.
// A changed resync interval takes effect at once, not after the next tick.
func (r *Reconciler) Run(ctx context.Context) {
	interval := r.resyncInterval()
	resync := time.NewTimer(interval)
	defer resync.Stop()
	for {
		r.drain(ctx)
		select {
		case <-ctx.Done():
			r.mu.Lock()
			for _, t := range r.retry {
				t.Stop()
			}
			r.mu.Unlock()
			return
		case <-r.wake:
			if now := r.resyncInterval(); now != interval {
				interval = now
				resync.Reset(interval)
			}
		case <-resync.C:
			r.EnqueueAll()
			interval = r.resyncInterval()
			resync.Reset(interval)
		}
	}
}

func (r *Reconciler) resyncInterval() time.Duration {
	if r.cfg.Resync > 0 {
		return r.cfg.Resync
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// The getter returns the YANG default (30 s) when the leaf is unset.
	return time.Duration(r.dev.GetSystem().GetConfig().GetReconcileInterval()) * time.Second
}

// drain reconciles every queued plugin once.
func (r *Reconciler) drain(ctx context.Context) {
	for ctx.Err() == nil {
		name, ok := r.next()
		if !ok {
			return
		}
		r.reconcile(ctx, name)
	}
}

// next takes the queued plugin to reconcile first: a platform driver
// before any other, because it moves the addresses at a takeover and
// traffic waits for nothing else; then by name.
func (r *Reconciler) next() (string, bool) {
	platform := map[string]bool{}
	for _, p := range r.cfg.Plugins() {
		platform[p.Name] = p.Kind == sdk.KindPlatform
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return "", false
	}
	first := slices.MinFunc(slices.Collect(maps.Keys(r.queue)), func(a, b string) int {
		if platform[a] != platform[b] {
			if platform[a] {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	delete(r.queue, first)
	return first, true
}

func (r *Reconciler) kindOf(name string) (sdk.Kind, bool) {
	for _, p := range r.cfg.Plugins() {
		if p.Name == name {
			return p.Kind, true
		}
	}
	return 0, false
}

func (r *Reconciler) reconcile(ctx context.Context, name string) {
	kind, known := r.kindOf(name)
	r.mu.Lock()
	dev, raw, rev, role := r.dev, r.configJSON, r.revision, r.role
	r.mu.Unlock()
	if !known || dev == nil {
		return
	}
	intent := &sdk.Intent{Revision: rev, Role: string(role), ConfigJson: raw}
	switch kind {
	case sdk.KindPlatform:
		intent.Platform = PlatformSpec(dev, role, r.cfg.Self)
	case sdk.KindStatesync:
		intent.Statesync = StatesyncSpec(dev, r.cfg.Self)
	}
	res, err := r.cfg.Applier.Apply(ctx, name, intent)
	r.record(name, rev, role, res, err)
}

// record updates the plugin's condition, publishes it, and schedules a
// retry with backoff after a failure.
func (r *Reconciler) record(name string, rev uint64, role fsm.Role, res *sdk.ApplyResult, err error) {
	r.mu.Lock()
	c, ok := r.conds[name]
	if !ok {
		c = &Condition{}
		r.conds[name] = c
	}
	if err != nil {
		c.LastError = err.Error()
		c.Failures++
		delay := r.cfg.RetryMin << min(c.Failures-1, 16)
		if delay > r.cfg.RetryMax || delay <= 0 {
			delay = r.cfg.RetryMax
		}
		if t, ok := r.retry[name]; ok {
			t.Stop()
		}
		r.retry[name] = time.AfterFunc(delay, func() { r.Enqueue(name) })
	} else {
		c.LastError = ""
		c.Failures = 0
		c.AppliedRevision, c.AppliedRole, c.LastApplied = rev, role, time.Now()
		c.Changes += uint64(res.GetChanges())
	}
	snap := *c
	r.mu.Unlock()
	if err != nil {
		r.cfg.Logger.Warn("apply failed", "plugin", name, "revision", rev, "err", err, "retry", snap.Failures)
	} else if res.GetChanges() > 0 {
		r.cfg.Logger.Info("applied", "plugin", name, "revision", rev, "role", role, "changes", res.GetChanges())
	}
	r.publish(name, snap)
}

func (r *Reconciler) publish(name string, c Condition) {
	if r.cfg.State == nil {
		return
	}
	base := fmt.Sprintf("/system/plugins/plugin[name=%s]/state/", name)
	for leaf, v := range map[string]any{
		"applied-revision": c.AppliedRevision,
		"applied-role":     string(c.AppliedRole),
		"last-error":       c.LastError,
		"changes":          c.Changes,
	} {
		if leaf == "applied-role" && c.AppliedRole == "" {
			continue
		}
		if err := r.cfg.State.Update(base+leaf, v); err != nil {
			r.cfg.Logger.Debug("state update", "path", base+leaf, "err", err)
		}
	}
	if !c.LastApplied.IsZero() {
		_ = r.cfg.State.Update(base+"last-applied", c.LastApplied.UTC().Format(time.RFC3339Nano))
	}
}
