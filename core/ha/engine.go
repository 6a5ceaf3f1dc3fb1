// Package ha runs the HA pair on a unit: it owns the heartbeat sockets of
// both paths (the HA control link and the backup path), authenticates
// every datagram (core/ha/wire), feeds heartbeats, ticks, link states and
// admin commands to the pure state machine (core/ha/fsm), and hands the
// roles it decides to the reconciler. One goroutine owns the machine;
// everything else talks to it through channels.
package ha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/ha/probe"
	"github.com/tandem-ha/tandem/core/ha/wire"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// Options assemble an Engine.
type Options struct {
	// Serial is this unit's serial number.
	Serial string
	// Firmware is the version this unit runs (MODE-5).
	Firmware string
	// DataDir keeps the boot epoch, which must grow across restarts.
	DataDir string
	// Logger receives the engine's logs.
	Logger *slog.Logger
	// OnRole receives every role change, with the reason.
	OnRole func(role fsm.Role, reason string)
	// OnEvent receives the events for the HA event log.
	OnEvent func(kind, severity, message string)
	// State receives the HA state leaves (the state tree).
	State interface {
		Update(path string, v any) error
	}
	// Prepare, when set and stateful sync is on, is called before this
	// unit becomes active: the addresses move only after it returns (or
	// after PrepareTimeout), so that synced sessions are installed first
	// (takeover ordering). It runs outside the engine's loop.
	Prepare func(ctx context.Context) error
}

// PrepareTimeout bounds Options.Prepare: a takeover is never held longer,
// because a unit without the peer's sessions is better than no active.
const PrepareTimeout = time.Second

// eventQueue is how many events may wait for Options.OnEvent before the
// loop waits for it.
const eventQueue = 256

// keyGrace is how long the previous pre-shared key is still accepted
// after a change (SEC-1).
const keyGrace = time.Minute

// Counters count the datagrams the engine refused, by reason.
type Counters struct {
	Accepted, BadAuth, Malformed, Replayed, Reflected, Unencrypted uint64
}

// Engine runs the HA pair protocol of this unit.
type Engine struct {
	opts  Options
	log   *slog.Logger
	start time.Time
	epoch uint32
	// boot is the machine's incarnation time: when it was created. The
	// wire carries the epoch instead; acknowledgements of our epoch are
	// mapped back to boot.
	boot time.Time

	configs chan *tandem.Device
	links   chan map[string]bool
	admin   chan fsm.Command
	recv    chan datagram
	done    chan struct{}
	statusQ chan chan Status
	bulk    chan bool
	ready   chan prepared
	// events carries the OnEvent calls to a goroutine of their own, in
	// order: the event log writes to disk, and a takeover must not wait
	// for that.
	events chan haEvent
	runCtx context.Context
	// preparing numbers the takeover preparations, so that the result of
	// an abandoned one cannot confirm a later one.
	preparing uint64
	// bulkDone is the last bulk sync status the sync plugin reported.
	bulkDone bool

	// Owned by the Run goroutine.
	setup   setup
	machine *fsm.Machine
	keys    wire.Keyring
	conns   []*net.UDPConn
	paths   []pathRuntime
	local   map[string]bool
	probeOK map[string]bool
	prober  *probe.Prober
	// proberTiming is the timing prober runs with; stopProbe ends it.
	proberTiming probe.Config
	stopProbe    context.CancelFunc
	// settleUntil ends the settle time after this unit became active,
	// remembered is what it saw of the held ports when it last stopped
	// being active, and relink asks for the links to be stepped again
	// (TKO-6, held.go).
	settleUntil time.Time
	remembered  fsm.Links
	relink      bool
	// retireAt is when the previous pre-shared key stops being accepted.
	retireAt time.Time
	counters Counters
	reason   string
}

// pathRuntime is what the engine tracks per heartbeat path.
type pathRuntime struct {
	window wire.ReplayWindow
	// echo: the peer's last timestamp on this path and when it came.
	peerTS    int64
	peerAt    time.Time
	heard     bool
	rttMicros uint32
}

// New prepares an engine and advances the persisted boot epoch.
func New(opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	epoch, err := nextEpoch(opts.DataDir)
	if err != nil {
		return nil, err
	}
	return &Engine{
		opts: opts, log: opts.Logger.With("component", "ha"), start: time.Now(), epoch: epoch,
		configs: make(chan *tandem.Device, 1), links: make(chan map[string]bool, 1),
		admin: make(chan fsm.Command, 4), recv: make(chan datagram, 64),
		done: make(chan struct{}), statusQ: make(chan chan Status),
		bulk: make(chan bool, 1), ready: make(chan prepared, 1),
		events: make(chan haEvent, eventQueue),
		local:  map[string]bool{}, probeOK: map[string]bool{},
	}, nil
}

// nextEpoch reads the last boot epoch from dir, advances it (never below
// the wall clock in seconds) and writes it back.
func nextEpoch(dir string) (uint32, error) {
	path := filepath.Join(dir, "ha-epoch")
	var prev uint32
	if b, err := os.ReadFile(path); err == nil {
		v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
		prev = uint32(v)
	}
	e := wire.NextEpoch(prev, time.Now().Unix())
	if err := os.WriteFile(path, []byte(strconv.FormatUint(uint64(e), 10)+"\n"), 0o600); err != nil {
		return 0, fmt.Errorf("ha: boot epoch: %w", err)
	}
	return e, nil
}

// Configure hands the engine a new running configuration (latest wins).
func (e *Engine) Configure(d *tandem.Device) { replaceLatest(e.configs, d) }

// LinkStates hands the engine the carrier state of every port it knows.
func (e *Engine) LinkStates(up map[string]bool) { replaceLatest(e.links, up) }

// BulkSync hands the engine the stateful sync plugin's bulk sync status
// (SYNC-7): until it is complete this unit does not take the role back
// from a healthy active.
func (e *Engine) BulkSync(complete bool) { replaceLatest(e.bulk, complete) }

// Admin hands the engine an admin command (ROLE-4, failover).
func (e *Engine) Admin(cmd fsm.Command) error {
	select {
	case e.admin <- cmd:
		return nil
	default:
		return errors.New("ha: too many admin commands queued")
	}
}

func replaceLatest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
			select {
			case <-ch:
			default:
			}
		}
	}
}

// mono is the engine's monotonic clock in nanoseconds, for RTT echoes.
func (e *Engine) mono() int64 { return int64(time.Since(e.start)) }

// Run drives the pair until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	defer close(e.done)
	delivered := make(chan struct{})
	go e.deliverEvents(delivered)
	defer func() { close(e.events); <-delivered }()
	defer e.closeSockets()
	e.runCtx = ctx
	// deadline steps the machine at its NextDeadline, so that a dead peer
	// is declared the moment its last path times out (DET-1); tick is a
	// safety net once per interval that also retires old keys; beat
	// sends the heartbeats on time. All follow the configured interval.
	interval := fsm.DefaultHeartbeatInterval
	tick := time.NewTicker(interval)
	defer tick.Stop()
	beat := time.NewTicker(interval)
	defer beat.Stop()
	deadline := time.NewTimer(time.Hour)
	deadline.Stop()
	var armed time.Time
	defer deadline.Stop()
	defer e.stopProber()
	for {
		if iv := e.setup.machine.HeartbeatInterval; iv > 0 && iv != interval {
			interval = iv
			tick.Reset(interval)
			beat.Reset(interval)
		}
		if e.machine != nil {
			if d := e.machine.NextDeadline(); !d.Equal(armed) {
				armed = d
				deadline.Stop()
				if !d.IsZero() {
					deadline.Reset(time.Until(d))
				}
			}
		}
		if e.relink {
			e.relink = false
			e.stepLinks()
		}
		var probeResults <-chan map[string]bool
		if e.prober != nil {
			probeResults = e.prober.Results()
		}
		select {
		case <-ctx.Done():
			return
		case ok := <-probeResults:
			e.probeOK = ok
			for port, up := range ok {
				e.update("/monitoring/interfaces/interface[name="+port+"]/state/probe-ok", up)
			}
			e.stepLinks()
		case d := <-e.configs:
			e.configure(ctx, d)
		case up := <-e.links:
			for k, v := range up {
				e.local[k] = v
			}
			e.stepLinks()
		case cmd := <-e.admin:
			if e.machine == nil {
				e.log.Warn("admin command ignored: HA is not running", "command", cmd, "reason", e.reason)
				continue
			}
			e.handle(e.machine.Step(fsm.Admin{At: time.Now(), Cmd: cmd}))
		case dg := <-e.recv:
			e.receive(dg)
		case done := <-e.bulk:
			e.bulkDone = done
			if e.machine != nil {
				e.handle(e.machine.Step(fsm.BulkSync{At: time.Now(), Complete: done}))
			}
		case p := <-e.ready:
			if e.machine == nil || p.id != e.preparing {
				continue // the machine was replaced, or a newer preparation runs
			}
			if p.err != nil {
				e.event("takeover-unprepared", "warning", "taking over without confirmation from the stateful sync: "+p.err.Error())
			}
			e.handle(e.machine.Step(fsm.Ready{At: time.Now()}))
		case reply := <-e.statusQ:
			reply <- e.snapshot()
		case now := <-deadline.C:
			armed = time.Time{}
			if e.machine != nil {
				e.handle(e.machine.Step(fsm.Tick{At: now}))
			}
		case now := <-tick.C:
			if e.machine == nil {
				continue
			}
			if !e.retireAt.IsZero() && now.After(e.retireAt) {
				e.keys.Retire()
				e.retireAt = time.Time{}
			}
			e.endSettle(now)
			e.handle(e.machine.Step(fsm.Tick{At: now}))
		case <-beat.C:
			if e.machine == nil {
				continue
			}
			e.send()
			e.publishPaths()
		}
	}
}

// configure applies a running configuration: starts, reconfigures or
// stops the pair.
func (e *Engine) configure(ctx context.Context, d *tandem.Device) {
	s, err := fromConfig(d, e.opts.Serial, e.opts.Firmware)
	if err != nil {
		if e.reason != err.Error() {
			e.log.Info("HA pair not running", "reason", err)
			e.reason = err.Error()
		}
		e.stop()
		return
	}
	e.reason = ""
	if s.psk != e.setup.psk {
		k, err := wire.NewKey([]byte(s.psk))
		if err != nil {
			e.event("config-error", "error", fmt.Sprintf("pre-shared key refused: %v", err))
			e.stop()
			return
		}
		switch {
		case e.keys.Current.IsZero():
			e.keys.Current = k
		case e.machine != nil && e.machine.Role() == fsm.RoleActive:
			// SEC-1, where the change was committed: keep sending under
			// the old key, accept both, promote once the peer (which gets
			// the key by config sync) is heard using it.
			e.keys.Stage(k)
			e.event("key-change", "info", "new pre-shared key staged; it is used once the peer has it")
		default:
			// The key came by config sync: send under it at once, keep
			// accepting the old one for a grace period.
			e.keys.Rotate(k)
			e.retireAt = time.Now().Add(keyGrace)
			e.event("key-change", "info", "pre-shared key changed; the old one is accepted for a grace period")
		}
	}
	pathsChanged := !samePaths(s.paths, e.setup.paths)
	if s.machine.HeartbeatInterval <= 0 {
		s.machine.HeartbeatInterval = fsm.DefaultHeartbeatInterval
	}
	s.machine.ConfirmTakeover = s.machine.StatefulSync && e.opts.Prepare != nil
	e.setup = s
	if e.machine == nil {
		e.boot = time.Now()
		e.machine = fsm.New(s.machine, e.boot)
		if e.bulkDone {
			e.handle(e.machine.Step(fsm.BulkSync{At: e.boot, Complete: true}))
		}
		e.log.Info("HA pair starting", "serial", e.opts.Serial, "designation", s.machine.Designation,
			"interval", s.machine.HeartbeatInterval, "trigger", s.machine.TriggerLevel, "paths", len(s.paths), "epoch", e.epoch)
		e.publishRole()
	} else {
		e.handle(e.machine.Step(fsm.SetConfig{At: time.Now(), Config: s.machine}))
	}
	if pathsChanged || e.conns == nil {
		e.openSockets(ctx)
	}
	e.configureProbes(ctx)
	e.stepLinks()
}

// configureProbes runs the logical probes of the setup (DET-4): a new
// prober when the timing changed, new targets otherwise.
func (e *Engine) configureProbes(ctx context.Context) {
	want := e.setup.probeTiming
	want.Logger = e.log
	if len(e.setup.probes) == 0 {
		e.stopProber()
		return
	}
	if e.prober == nil || e.proberTiming != e.setup.probeTiming {
		e.stopProber()
		pctx, cancel := context.WithCancel(ctx)
		e.prober, e.stopProbe, e.proberTiming = probe.New(want), cancel, e.setup.probeTiming
		go e.prober.Run(pctx)
	}
	e.prober.SetTargets(e.setup.probes)
}

func (e *Engine) stopProber() {
	if e.stopProbe != nil {
		e.stopProbe()
	}
	e.prober, e.stopProbe, e.probeOK = nil, nil, map[string]bool{}
}

func samePaths(a, b []pathConfig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (e *Engine) openSockets(ctx context.Context) {
	e.closeSockets()
	e.paths = make([]pathRuntime, len(e.setup.paths))
	for i, p := range e.setup.paths {
		conn, err := listen(ctx, p.local)
		if err != nil {
			e.event("path-error", "error", fmt.Sprintf("heartbeat path %s: %v", p.name, err))
			e.conns = append(e.conns, nil)
			continue
		}
		e.conns = append(e.conns, conn)
		go receive(conn, i, e.recv, e.done)
	}
}

func (e *Engine) closeSockets() {
	for _, c := range e.conns {
		if c != nil {
			c.Close()
		}
	}
	e.conns = nil
}

// stop ends the pair: sockets closed, machine dropped.
func (e *Engine) stop() {
	if e.machine == nil {
		return
	}
	e.closeSockets()
	e.stopProber()
	e.machine = nil
	e.setup = setup{}
	e.keys = wire.Keyring{}
	e.settleUntil, e.remembered = time.Time{}, nil
}

// stepLinks gives the machine the monitored ports' states, with the ports
// held down on purpose counted as held.go says (TKO-6).
func (e *Engine) stepLinks() {
	if e.machine == nil {
		return
	}
	now := time.Now()
	links := linkInputs(e.setup, e.local, e.probeOK, e.holding(now), e.remembered)
	e.handle(e.machine.Step(fsm.LocalLinks{At: now, Links: links}))
}

// send sends one heartbeat round on every path.
func (e *Engine) send() {
	now := time.Now()
	adv := e.machine.Advertise()
	probed := map[string]bool{}
	for _, ifc := range e.setup.machine.Interfaces {
		probed[ifc.Name] = ifc.Probe
	}
	payload := toWire(adv, probed)
	for i, p := range e.setup.paths {
		if i >= len(e.conns) || e.conns[i] == nil {
			continue
		}
		m := &wire.Message{Serial: e.opts.Serial, Epoch: e.epoch, Seq: adv.Seq, Timestamp: e.mono(), Payload: payload}
		if !adv.AckBoot.IsZero() {
			m.Echo = wire.Echo{Present: true, Epoch: uint32(adv.AckBoot.Unix()), Seq: adv.Ack}
			if pr := e.paths[i]; pr.heard {
				m.Echo.Timestamp, m.Echo.Delay = pr.peerTS, now.Sub(pr.peerAt)
			}
		}
		b, err := e.keys.Seal(m, e.setup.encrypt)
		if err != nil {
			e.log.Error("sealing heartbeat", "err", err)
			return
		}
		if _, err := e.conns[i].WriteToUDPAddrPort(b, p.peer); err != nil {
			e.log.Debug("heartbeat not sent", "path", p.name, "err", err)
		}
	}
}

// receive authenticates one datagram and hands it to the machine.
func (e *Engine) receive(dg datagram) {
	if e.machine == nil || dg.path >= len(e.setup.paths) {
		return
	}
	p := e.setup.paths[dg.path]
	m, slot, err := e.keys.Open(dg.data)
	switch {
	case errors.Is(err, wire.ErrAuth) || errors.Is(err, wire.ErrNoKey):
		e.counters.BadAuth++
		return
	case err != nil:
		e.counters.Malformed++
		return
	case m.Serial == e.opts.Serial:
		e.counters.Reflected++
		return
	case e.setup.encrypt && !m.Encrypted:
		e.counters.Unencrypted++
		return
	}
	if slot == wire.SlotNext {
		e.keys.Promote()
		e.retireAt = time.Now().Add(keyGrace)
		e.event("key-change", "info", "the peer uses the new pre-shared key; now sending under it")
	}
	pr := &e.paths[dg.path]
	if err := pr.window.Accept(m.Epoch, m.Seq); err != nil {
		e.counters.Replayed++
		return
	}
	e.counters.Accepted++
	now := time.Now()
	pr.peerTS, pr.peerAt, pr.heard = m.Timestamp, now, true
	if m.Echo.Present && m.Echo.Epoch == e.epoch {
		if rtt, ok := m.Echo.RTT(e.mono()); ok {
			pr.rttMicros = uint32(rtt.Microseconds())
		}
	}
	e.handle(e.machine.Step(fsm.Heartbeat{At: now, Path: p.name, Peer: fromWire(m, e.epoch, e.boot)}))
}

// handle carries out the machine's outputs.
func (e *Engine) handle(outs []fsm.Output) {
	for _, o := range outs {
		switch o := o.(type) {
		case fsm.RoleChange:
			e.log.Info("role change", "from", o.From, "to", o.To, "reason", o.Reason)
			e.event("role-change", "warning", fmt.Sprintf("role %s -> %s: %s", o.From, o.To, o.Reason))
			e.roleChanged(o.From, o.To, time.Now())
			if e.opts.OnRole != nil {
				e.opts.OnRole(o.To, string(o.Reason))
			}
			e.publishRole()
			e.send()
		case fsm.Event:
			sev := "info"
			switch o.Kind {
			case fsm.EventPeerLost, fsm.EventPathDown, fsm.EventFailSoft, fsm.EventQualityChange, fsm.EventTakeoverAborted:
				sev = "warning"
			case fsm.EventRefuseToPair, fsm.EventDualActive:
				sev = "error"
			}
			msg := string(o.Kind)
			if o.Path != "" {
				msg += " (" + string(o.Path) + ")"
			}
			if o.Detail != "" {
				msg += ": " + o.Detail
			}
			e.event(string(o.Kind), sev, msg)
		case fsm.PrepareActive:
			e.prepare(string(o.Reason))
		case fsm.SendHeartbeat:
			e.send()
		}
	}
}

// prepare runs Options.Prepare outside the loop and steps Ready when it
// returns; without Prepare it steps Ready at once.
func (e *Engine) prepare(reason string) {
	if e.opts.Prepare == nil {
		e.handle(e.machine.Step(fsm.Ready{At: time.Now()}))
		return
	}
	e.log.Info("preparing to take over", "reason", reason)
	e.preparing++
	id := e.preparing
	go func() {
		ctx, cancel := context.WithTimeout(e.runCtx, PrepareTimeout)
		defer cancel()
		err := e.opts.Prepare(ctx)
		select {
		case e.ready <- prepared{id: id, err: err}:
		case <-e.runCtx.Done():
		}
	}()
}

// prepared is the result of one takeover preparation.
type prepared struct {
	id  uint64
	err error
}

// event queues an event for Options.OnEvent.
func (e *Engine) event(kind, severity, msg string) {
	if e.opts.OnEvent != nil {
		e.events <- haEvent{kind, severity, msg}
	}
}

// haEvent is one queued OnEvent call.
type haEvent struct{ kind, severity, msg string }

// deliverEvents calls OnEvent for every queued event, in order, until the
// queue is closed, then closes done.
func (e *Engine) deliverEvents(done chan<- struct{}) {
	defer close(done)
	for ev := range e.events {
		e.opts.OnEvent(ev.kind, ev.severity, ev.msg)
	}
}

func (e *Engine) update(path string, v any) {
	if e.opts.State == nil {
		return
	}
	if err := e.opts.State.Update(path, v); err != nil {
		e.log.Debug("state update refused", "path", path, "err", err)
	}
}

func (e *Engine) publishRole() {
	s := e.machine.State()
	e.update("/ha/state/role", string(s.Role))
	e.update("/ha/state/role-since", s.Since.UTC().Format(time.RFC3339Nano))
	e.update("/ha/state/designation", string(s.Designation))
	e.update("/ha/state/serial-number", s.Serial)
	e.update("/ha/state/quality", uint8(s.Quality))
	e.update("/ha/state/priority", uint8(s.Priority))
	e.update("/ha/state/degraded", s.Degraded)
	e.update("/ha/state/reason", s.Reason)
}

func (e *Engine) publishPaths() {
	s := e.machine.State()
	for i, p := range e.setup.paths {
		base := "/ha/links/link[function=" + p.function + "]/state/"
		status := "down"
		if s.Paths[p.name].Up {
			status = "up"
		}
		e.update(base+"oper-status", status)
		if i < len(e.paths) && e.paths[i].rttMicros > 0 {
			e.update(base+"rtt", e.paths[i].rttMicros)
		}
	}
	e.update("/ha/state/quality", uint8(s.Quality))
}
