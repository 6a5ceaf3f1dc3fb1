// Package pluginhost runs tandem's plugins: every executable found in the
// plugin directory (see Discover) is started as its own process through
// hashicorp/go-plugin (gRPC only, versioned handshake, AutoMTLS), described,
// health-checked, watched, and restarted with exponential backoff when it dies
// or hangs. A plugin's crash never takes the host down nor blocks it: calls to
// other plugins go on, calls to the dead one fail fast with ErrPluginDown.
//
// The reconciler listens on Events: EventStarted means a plugin came up (for
// the first time or again after a crash) and must be given its intent.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Defaults for zero Config fields.
const (
	DefaultHealthInterval   = 5 * time.Second
	DefaultBackoffMin       = 100 * time.Millisecond
	DefaultBackoffMax       = 30 * time.Second
	DefaultStableAfter      = time.Minute
	DefaultMaxRapidFailures = 10
	DefaultStartTimeout     = 15 * time.Second
	DefaultEventBuffer      = 4096
)

// killGrace is how long a graceful go-plugin shutdown may take before the
// process is killed.
const killGrace = 3 * time.Second

// ErrPluginDown is returned (wrapped) by Apply when the plugin is not running.
var ErrPluginDown = errors.New("plugin is not running")

// Config configures a Host.
type Config struct {
	// Dir is the plugin directory, scanned once by Start (see Discover).
	Dir string
	// Logger receives the host's and the plugins' logs. Default slog.Default().
	Logger *slog.Logger
	// HealthInterval is the period of the health check (go-plugin's gRPC
	// health service). Two consecutive failed checks kill the plugin.
	HealthInterval time.Duration
	// HealthTimeout bounds one health check. Default: HealthInterval, at
	// most 5s.
	HealthTimeout time.Duration
	// BackoffMin and BackoffMax bound the restart delay, which doubles after
	// each rapid failure.
	BackoffMin, BackoffMax time.Duration
	// StableAfter is how long a plugin must have run for the backoff and the
	// rapid-failure count to be reset.
	StableAfter time.Duration
	// MaxRapidFailures consecutive failures, each before StableAfter, mark
	// the plugin failed: it is not restarted again until Restart is called.
	MaxRapidFailures int
	// StartTimeout bounds a plugin's start (handshake) plus its Describe.
	StartTimeout time.Duration
	// Env is added to the host's environment for every plugin process
	// (later entries win).
	Env []string
	// EventBuffer is how many undelivered events may queue up before
	// observations are dropped (lifecycle events are never dropped).
	EventBuffer int
}

// State of a plugin.
type State string

// Plugin states.
const (
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateBackoff  State = "backoff"
	StateFailed   State = "failed"
	StateStopped  State = "stopped"
)

// Status is a snapshot of one plugin.
type Status struct {
	// Name is the name the plugin gave in Describe; before its first
	// successful Describe, the <id> of its file name.
	Name string
	// File is the executable's base name (tandem-platform-lab).
	File      string
	Path      string
	Kind      sdk.Kind
	Version   string
	Platforms []string
	// PID of the current process, 0 when none.
	PID   int
	State State
	// Restarts counts the starts after the first one.
	Restarts int
	// LastError is the reason of the last failure ("" if none).
	LastError string
	// Since is when State was entered.
	Since time.Time
}

// EventType tells what an Event is about.
type EventType int

// Event types.
const (
	// EventStarted: the plugin came up (Restarted is true after a crash or
	// hang) and holds no intent; the reconciler must Apply it.
	EventStarted EventType = iota + 1
	// EventObservation carries an Observation from the plugin's Watch
	// stream (re-subscribed automatically after a restart).
	EventObservation
	// EventStateChanged: the plugin's State changed (see Status).
	EventStateChanged
)

func (t EventType) String() string {
	switch t {
	case EventStarted:
		return "started"
	case EventObservation:
		return "observation"
	case EventStateChanged:
		return "state-changed"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is delivered on Host.Events.
type Event struct {
	Type EventType
	// Plugin is the plugin's Status.Name.
	Plugin string
	Time   time.Time
	// Restarted is set on EventStarted when this is not the first start.
	Restarted bool
	// Status is the plugin's status when the event was emitted (all types
	// but EventObservation).
	Status Status
	// Observation is set for EventObservation.
	Observation *sdk.Observation
}

// Host supervises the plugin processes.
type Host struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	procs   []*proc
	started bool
	stopped bool

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	events   *eventQueue
	stopOnce sync.Once
}

// proc is one supervised plugin.
type proc struct {
	h    *Host
	path string
	file string
	log  *slog.Logger

	// guarded by h.mu
	status Status
	client *sdk.Client

	restart   chan struct{} // Restart of a failed plugin
	firstOnce sync.Once
	first     chan struct{} // closed after the first start attempt
}

// New returns a Host. No plugin runs before Start; call Stop to release it.
func New(cfg Config) *Host {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = min(cfg.HealthInterval, 5*time.Second)
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	cfg.BackoffMax = max(cfg.BackoffMax, cfg.BackoffMin)
	if cfg.StableAfter <= 0 {
		cfg.StableAfter = DefaultStableAfter
	}
	if cfg.MaxRapidFailures <= 0 {
		cfg.MaxRapidFailures = DefaultMaxRapidFailures
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = DefaultEventBuffer
	}
	cfg.Env = slices.Clone(cfg.Env)
	log := cfg.Logger.With("component", "pluginhost")
	h := &Host{cfg: cfg, log: log, events: newEventQueue(cfg.EventBuffer, log)}
	go h.events.run() // ends in Stop
	return h
}

// Start scans the plugin directory and starts every plugin found, each under
// its own supervisor. It returns an error only when the directory cannot be
// read or Start was called before; a plugin that fails to start is retried
// in the background (see Plugins). Start waits, at most until ctx is done,
// for every plugin's first start attempt to finish, so that Plugins reports
// the names given by Describe. Supervision runs until Stop; ctx only bounds
// that wait.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return errors.New("pluginhost: already started")
	}
	h.started = true
	h.mu.Unlock()

	paths, skipped, err := Discover(h.cfg.Dir)
	if err != nil {
		return fmt.Errorf("pluginhost: %w", err)
	}
	for _, s := range skipped {
		h.log.Warn("ignoring file in plugin directory", "dir", h.cfg.Dir, "reason", s)
	}
	if len(paths) == 0 {
		h.log.Warn("no plugins found", "dir", h.cfg.Dir)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	h.mu.Lock()
	h.cancel = cancel
	for _, path := range paths {
		file := filepath.Base(path)
		id, _ := pluginID(file)
		p := &proc{
			h:       h,
			path:    path,
			file:    file,
			log:     h.log.With("plugin", file),
			restart: make(chan struct{}, 1),
			first:   make(chan struct{}),
			status:  Status{Name: id, File: file, Path: path, State: StateStarting, Since: time.Now()},
		}
		h.procs = append(h.procs, p)
	}
	procs := slices.Clone(h.procs)
	stopped := h.stopped
	h.mu.Unlock()
	if stopped {
		cancel()
		return errors.New("pluginhost: stopped")
	}

	for _, p := range procs {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			p.supervise(runCtx)
		}()
	}
	for _, p := range procs {
		select {
		case <-p.first:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// Stop kills every plugin process and waits for the supervisors to end. It
// then closes the Events channel. Stop is idempotent.
func (h *Host) Stop() {
	h.stopOnce.Do(func() {
		h.mu.Lock()
		h.stopped = true
		cancel := h.cancel
		h.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		h.wg.Wait()
		h.events.close()
	})
}

// Events returns the host's event channel (one channel, meant for one
// consumer, closed by Stop). Events queue up while nobody reads, so the host
// never blocks on a slow consumer; past Config.EventBuffer queued events,
// observations are dropped and counted.
func (h *Host) Events() <-chan Event { return h.events.out }

// Plugins returns the status of every plugin, ordered by file name.
func (h *Host) Plugins() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Status, 0, len(h.procs))
	for _, p := range h.procs {
		out = append(out, p.statusLocked())
	}
	return out
}

// Plugin returns the status of the plugin named name (its Describe name or
// its file name).
func (h *Host) Plugin(name string) (Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.lookupLocked(name); p != nil {
		return p.statusLocked(), true
	}
	return Status{}, false
}

// PlatformDriver returns the running platform plugin that claims model (in
// its Describe platforms list).
func (h *Host) PlatformDriver(model string) (Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.procs {
		if p.status.Kind == sdk.KindPlatform && p.client != nil && slices.Contains(p.status.Platforms, model) {
			return p.statusLocked(), true
		}
	}
	return Status{}, false
}

// Apply hands an intent to the plugin named name (Describe name or file
// name). It fails fast, wrapping ErrPluginDown, when the plugin is not
// running; the caller re-applies when EventStarted arrives.
func (h *Host) Apply(ctx context.Context, name string, in *sdk.Intent) (*sdk.ApplyResult, error) {
	c, st, err := h.running(name)
	if err != nil {
		return nil, err
	}
	res, err := c.Apply(ctx, in)
	if err != nil {
		select {
		case <-c.Done():
			return nil, fmt.Errorf("pluginhost: plugin %q exited during apply: %w", st.Name, ErrPluginDown)
		default:
		}
		return nil, fmt.Errorf("pluginhost: plugin %q: apply revision %d: %w", st.Name, in.GetRevision(), err)
	}
	return res, nil
}

// PrepareActive asks the plugin named name to put the state it owns in
// place before this unit becomes active (sdk.Preparer).
func (h *Host) PrepareActive(ctx context.Context, name string) (*sdk.PrepareResult, error) {
	c, st, err := h.running(name)
	if err != nil {
		return nil, err
	}
	res, err := c.PrepareActive(ctx)
	if err != nil {
		return nil, fmt.Errorf("pluginhost: plugin %q: prepare active: %w", st.Name, err)
	}
	return res, nil
}

// running returns the client of the running plugin named name, or an
// error wrapping ErrPluginDown.
func (h *Host) running(name string) (*sdk.Client, Status, error) {
	h.mu.Lock()
	p := h.lookupLocked(name)
	if p == nil {
		h.mu.Unlock()
		return nil, Status{}, fmt.Errorf("pluginhost: no plugin named %q in %s", name, h.cfg.Dir)
	}
	c, st := p.client, p.statusLocked()
	h.mu.Unlock()
	if c == nil {
		if st.LastError != "" {
			return nil, st, fmt.Errorf("pluginhost: plugin %q is %s (last error: %s): %w", st.Name, st.State, st.LastError, ErrPluginDown)
		}
		return nil, st, fmt.Errorf("pluginhost: plugin %q is %s: %w", st.Name, st.State, ErrPluginDown)
	}
	return c, st, nil
}

// Restart restarts a plugin that was marked failed. It is a no-op for a
// plugin in any other state.
func (h *Host) Restart(name string) error {
	h.mu.Lock()
	p := h.lookupLocked(name)
	failed := p != nil && p.status.State == StateFailed
	h.mu.Unlock()
	if p == nil {
		return fmt.Errorf("pluginhost: no plugin named %q", name)
	}
	if !failed {
		return nil
	}
	select {
	case p.restart <- struct{}{}:
	default:
	}
	return nil
}

func (h *Host) lookupLocked(name string) *proc {
	for _, p := range h.procs {
		if p.status.Name == name {
			return p
		}
	}
	for _, p := range h.procs {
		if p.file == name {
			return p
		}
	}
	return nil
}

func (p *proc) statusLocked() Status {
	s := p.status
	s.Platforms = slices.Clone(s.Platforms)
	return s
}

// setState records a state change and emits EventStateChanged.
func (p *proc) setState(st State, pid int, lastErr error) {
	p.h.mu.Lock()
	changed := p.status.State != st
	p.status.State = st
	p.status.PID = pid
	if lastErr != nil {
		p.status.LastError = lastErr.Error()
	}
	if changed {
		p.status.Since = time.Now()
	}
	s := p.statusLocked()
	p.h.mu.Unlock()
	if changed {
		p.h.events.push(Event{Type: EventStateChanged, Plugin: s.Name, Time: s.Since, Status: s})
	}
}

func (p *proc) firstDone() { p.firstOnce.Do(func() { close(p.first) }) }

// supervise runs the plugin until ctx is done, restarting it with backoff.
func (p *proc) supervise(ctx context.Context) {
	defer p.firstDone()
	cfg := p.h.cfg
	backoff := cfg.BackoffMin
	rapid := 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			p.h.mu.Lock()
			p.status.Restarts++
			p.h.mu.Unlock()
		}
		p.setState(StateStarting, 0, nil)
		began := time.Now()
		err := p.runOnce(ctx, attempt > 0)
		p.firstDone()
		if ctx.Err() != nil {
			p.setState(StateStopped, 0, nil)
			return
		}
		if err == nil {
			err = errors.New("plugin stopped")
		}
		if time.Since(began) >= cfg.StableAfter {
			backoff, rapid = cfg.BackoffMin, 0
		}
		rapid++
		if rapid >= cfg.MaxRapidFailures {
			p.log.Error("plugin failed too often; not restarting it", "failures", rapid, "error", err)
			p.setState(StateFailed, 0, err)
			select {
			case <-ctx.Done():
				p.setState(StateStopped, 0, nil)
				return
			case <-p.restart:
				p.log.Info("restarting failed plugin on request")
				backoff, rapid = cfg.BackoffMin, 0
				continue
			}
		}
		p.log.Warn("plugin down; restarting after backoff", "error", err, "backoff", backoff, "failures", rapid)
		p.setState(StateBackoff, 0, err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			p.setState(StateStopped, 0, nil)
			return
		case <-t.C:
		}
		backoff = min(2*backoff, cfg.BackoffMax)
	}
}

// runOnce starts the plugin process, describes it, and supervises it until it
// exits, hangs, or ctx is done. It always leaves no process behind.
func (p *proc) runOnce(ctx context.Context, restarted bool) error {
	cfg := p.h.cfg
	// procCtx owns the process: cancelling it SIGKILLs the plugin (os/exec).
	procCtx, killProc := context.WithCancel(context.Background())
	defer killProc()
	cmd := exec.CommandContext(procCtx, p.path)
	cmd.Env = append(os.Environ(), cfg.Env...)
	// Do not outlive the host if it is killed itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(nil),
		Cmd:              cmd,
		SkipHostEnv:      true, // cmd.Env already has it; Config.Env must win
		AllowedProtocols: sdk.AllowedProtocols,
		AutoMTLS:         true,
		StartTimeout:     cfg.StartTimeout,
		Logger:           newHclog(p.h.cfg.Logger.With("plugin", p.file), "go-plugin"),
	})
	// shutdown ends the process: gracefully through go-plugin if it
	// answers, with SIGKILL after killGrace otherwise.
	shutdown := func() {
		done := make(chan struct{})
		go func() { client.Kill(); close(done) }()
		select {
		case <-done:
		case <-time.After(killGrace):
			killProc()
			<-done
		}
	}
	defer shutdown()

	// Starting blocks (handshake); kill the process if the host stops
	// meanwhile so that Stop never waits for StartTimeout.
	startDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			killProc()
		case <-startDone:
		}
	}()
	sc, err := sdk.Dispense(client)
	close(startDone)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.path, err)
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	info, err := sc.Describe(dctx)
	cancel()
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	if info.GetName() == "" {
		return errors.New("describe: plugin returned an empty name")
	}

	p.h.mu.Lock()
	for _, o := range p.h.procs {
		if o != p && o.status.Name == info.GetName() {
			p.h.mu.Unlock()
			return fmt.Errorf("describe: name %q is already used by %s", info.GetName(), o.file)
		}
	}
	p.status.Name = info.GetName()
	p.status.Kind = info.GetKind()
	p.status.Version = info.GetVersion()
	p.status.Platforms = slices.Clone(info.GetPlatforms())
	p.client = sc
	p.h.mu.Unlock()
	defer func() {
		p.h.mu.Lock()
		p.client = nil
		p.h.mu.Unlock()
	}()

	p.setState(StateRunning, pid, nil)
	p.log.Info("plugin running", "name", info.GetName(), "kind", info.GetKind().String(), "version", info.GetVersion(), "pid", pid, "restarted", restarted)
	p.h.mu.Lock()
	st := p.statusLocked()
	p.h.mu.Unlock()
	p.h.events.push(Event{Type: EventStarted, Plugin: st.Name, Time: time.Now(), Restarted: restarted, Status: st})
	p.firstDone()

	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		p.watch(watchCtx, sc, st.Name)
	}()
	defer func() { stopWatch(); <-watchDone }()

	tick := time.NewTicker(cfg.HealthInterval)
	defer tick.Stop()
	pingFailures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sc.Done():
			return errors.New("plugin process exited")
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, cfg.HealthTimeout)
			err := sc.Ping(pctx)
			cancel()
			if err == nil {
				pingFailures = 0
				continue
			}
			select {
			case <-sc.Done():
				return errors.New("plugin process exited")
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			pingFailures++
			p.log.Warn("plugin health check failed", "error", err, "consecutive", pingFailures)
			if pingFailures >= 2 {
				killProc() // hung: do not wait for a graceful shutdown
				return fmt.Errorf("health check: %w", err)
			}
		}
	}
}

// watch keeps a Watch stream open and forwards its observations, subscribing
// again when the stream breaks while the plugin runs.
func (p *proc) watch(ctx context.Context, sc *sdk.Client, name string) {
	delay := p.h.cfg.BackoffMin
	for {
		began := time.Now()
		err := sc.Watch(ctx, func(o *sdk.Observation) {
			p.h.events.push(Event{Type: EventObservation, Plugin: name, Time: time.Now(), Observation: o})
		})
		if ctx.Err() != nil {
			return
		}
		if status.Code(err) == codes.Unimplemented {
			p.log.Debug("plugin does not implement Watch")
			return
		}
		if time.Since(began) > 10*time.Second {
			delay = p.h.cfg.BackoffMin
		}
		p.log.Warn("watch stream ended; subscribing again", "error", err, "after", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-sc.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// eventQueue decouples event producers (supervisors, watch streams) from the
// consumer of Host.Events: pushing never blocks.
type eventQueue struct {
	log   *slog.Logger
	limit int
	out   chan Event

	mu      sync.Mutex
	q       []Event
	closed  bool
	dropped uint64
	notify  chan struct{}
	done    chan struct{}
}

func newEventQueue(limit int, log *slog.Logger) *eventQueue {
	return &eventQueue{log: log, limit: limit, out: make(chan Event), notify: make(chan struct{}, 1), done: make(chan struct{})}
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	if ev.Type == EventObservation && len(e.q) >= e.limit {
		e.dropped++
		n := e.dropped
		e.mu.Unlock()
		if n&(n-1) == 0 { // log at powers of two
			e.log.Warn("event consumer too slow; dropping observations", "dropped", n)
		}
		return
	}
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

func (e *eventQueue) run() {
	defer close(e.out)
	for {
		e.mu.Lock()
		if len(e.q) == 0 {
			e.mu.Unlock()
			select {
			case <-e.notify:
				continue
			case <-e.done:
				return
			}
		}
		ev := e.q[0]
		e.q[0] = Event{}
		e.q = e.q[1:]
		e.mu.Unlock()
		select {
		case e.out <- ev:
		case <-e.done:
			return
		}
	}
}

func (e *eventQueue) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.done)
	}
}
