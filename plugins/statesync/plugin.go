package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/statesync/conntrack"
	"github.com/tandem-ha/tandem/plugins/statesync/stream"
)

// version is the plugin's version, reported by Describe.
const version = "0.1.0"

// plugin is the state sync plugin: one stream endpoint while stateful sync
// is on, rebuilt when the stream's endpoints or filters change.
type plugin struct {
	log    *slog.Logger
	events chan *sdk.Observation

	mu   sync.Mutex
	run  *running
	role stream.Role
}

// running is a started endpoint and what it was started with.
type running struct {
	spec   *sdk.StatesyncSpec
	ep     *stream.Endpoint
	local  *conntrack.LocalAddrs
	closer []func() error
	cancel context.CancelFunc
	done   chan struct{}
}

func newPlugin() *plugin {
	return &plugin{
		log:    slog.New(slog.NewTextHandler(os.Stderr, nil)).With("plugin", "statesync"),
		events: make(chan *sdk.Observation, 256),
	}
}

// Describe implements sdk.Plugin.
func (p *plugin) Describe(context.Context) (*sdk.Info, error) {
	return &sdk.Info{Name: "statesync", Kind: sdk.KindStatesync, Version: version}, nil
}

// Apply implements sdk.Plugin: it starts, reconfigures or stops the
// stream and sets its direction from the intent's role.
func (p *plugin) Apply(ctx context.Context, in *sdk.Intent) (*sdk.ApplyResult, error) {
	spec := in.GetStatesync()
	role := roleOf(in.GetRole())
	p.mu.Lock()
	defer p.mu.Unlock()
	var changes uint32
	if !spec.GetEnabled() || spec.GetPeer() == "" {
		if p.run != nil {
			p.stopLocked()
			changes++
		}
		p.role = role
		return &sdk.ApplyResult{Changes: changes}, nil
	}
	if p.run != nil && !sameStream(p.run.spec, spec) {
		p.stopLocked()
		changes++
	}
	if p.run == nil {
		if err := p.startLocked(spec); err != nil {
			return nil, err
		}
		changes++
	}
	if !bytes.Equal(p.run.spec.GetKey(), spec.GetKey()) {
		if err := p.run.ep.SetKey(spec.GetKey()); err != nil {
			return nil, fmt.Errorf("statesync: key: %w", err)
		}
		p.run.spec = spec
		changes++
	}
	if role != p.role || changes > 0 {
		p.run.ep.SetRole(role)
		if role != p.role {
			changes++
		}
		p.role = role
	}
	return &sdk.ApplyResult{Changes: changes}, nil
}

// roleOf maps the unit's HA role to the stream's direction.
func roleOf(role string) stream.Role {
	switch role {
	case sdk.RoleActive:
		return stream.RoleActive
	case sdk.RoleStandby:
		return stream.RoleStandby
	}
	return stream.RoleOther
}

// sameStream reports whether two specs need the same endpoint: everything
// but the key, which changes in place (SEC-1).
func sameStream(a, b *sdk.StatesyncSpec) bool {
	return a.GetLocal() == b.GetLocal() && a.GetPeer() == b.GetPeer() && a.GetEncrypt() == b.GetEncrypt() &&
		a.GetRateBytesPerSecond() == b.GetRateBytesPerSecond() && a.GetMinAgeSeconds() == b.GetMinAgeSeconds() &&
		a.GetNoSyncMark() == b.GetNoSyncMark() && slices.Equal(a.GetChannels(), b.GetChannels()) &&
		slices.Equal(a.GetLocalAddresses(), b.GetLocalAddresses())
}

func (p *plugin) startLocked(spec *sdk.StatesyncSpec) error {
	local, err := netip.ParseAddrPort(spec.GetLocal())
	if err != nil {
		return fmt.Errorf("statesync: local endpoint %q: %w", spec.GetLocal(), err)
	}
	peer, err := netip.ParseAddrPort(spec.GetPeer())
	if err != nil {
		return fmt.Errorf("statesync: peer endpoint %q: %w", spec.GetPeer(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{spec: spec, cancel: cancel, done: make(chan struct{})}
	chans, err := p.channels(ctx, r, spec)
	if err != nil {
		cancel()
		r.close()
		return err
	}
	ep, err := stream.New(stream.Config{
		Local: local, Peer: peer, Key: spec.GetKey(), Encrypt: spec.GetEncrypt(),
		Rate: int64(spec.GetRateBytesPerSecond()), Logger: p.log, OnEvent: p.forward,
	}, chans...)
	if err != nil {
		cancel()
		r.close()
		return fmt.Errorf("statesync: %w", err)
	}
	r.ep = ep
	go func() {
		defer close(r.done)
		if err := ep.Run(ctx); err != nil {
			p.log.Error("state sync stream stopped", "err", err)
			p.forward(stream.Event{Time: time.Now(), Type: stream.EventError, Severity: stream.SeverityError,
				Message: "state sync stream stopped: " + err.Error()})
		}
	}()
	p.run = r
	p.log.Info("state sync started", "local", local, "peer", peer, "channels", spec.GetChannels())
	return nil
}

// channels builds the stream's channels that spec asks for.
func (p *plugin) channels(ctx context.Context, r *running, spec *sdk.StatesyncSpec) ([]stream.Channel, error) {
	static := map[netip.Addr]bool{}
	for _, s := range spec.GetLocalAddresses() {
		if a, err := netip.ParseAddr(s); err == nil {
			static[a] = true
		}
	}
	var out []stream.Channel
	if slices.Contains(spec.GetChannels(), "connections") {
		addrs, err := conntrack.NewLocalAddrs(ctx, 0, p.log)
		if err != nil {
			return nil, fmt.Errorf("statesync: watching the unit's addresses: %w", err)
		}
		r.local = addrs
		isLocal := func(a netip.Addr) bool { return static[a.Unmap()] || addrs.Contains(a) }
		src, err := conntrack.NewSource(conntrack.SourceConfig{
			IsLocal: isLocal, ExcludeMark: spec.GetNoSyncMark(), ExcludeMask: spec.GetNoSyncMark(),
			MinAge: time.Duration(spec.GetMinAgeSeconds()) * time.Second, Logger: p.log,
		})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		sink, err := conntrack.NewSink(conntrack.SinkConfig{IsLocal: isLocal, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		r.closer = append(r.closer, sink.Close)
		out = append(out, stream.Channel{Source: src, Sink: sink})
	}
	return out, nil
}

func (r *running) close() {
	for _, c := range r.closer {
		_ = c()
	}
}

func (p *plugin) stopLocked() {
	r := p.run
	p.run = nil
	r.cancel()
	<-r.done
	r.close()
	p.log.Info("state sync stopped")
}

// forward hands a stream event to the core's event log.
func (p *plugin) forward(ev stream.Event) {
	o := sdk.NewEventObservation(ev.Time, &sdk.PluginEvent{Type: ev.Type, Severity: ev.Severity, Message: ev.Message})
	select {
	case p.events <- o:
	default:
		p.log.Warn("event dropped: the core is not reading", "type", ev.Type)
	}
}

// PrepareActive implements sdk.Preparer: before the unit takes over,
// everything received is installed (takeover ordering).
func (p *plugin) PrepareActive(ctx context.Context) (*sdk.PrepareResult, error) {
	p.mu.Lock()
	r := p.run
	p.mu.Unlock()
	if r == nil {
		return &sdk.PrepareResult{Ready: true, Detail: "stateful sync is off"}, nil
	}
	start := time.Now()
	if err := r.ep.Confirm(ctx); err != nil {
		return &sdk.PrepareResult{Ready: false, Detail: err.Error()}, nil
	}
	st := r.ep.Stats()
	return &sdk.PrepareResult{Ready: true, Detail: fmt.Sprintf("%d records installed up to sequence %d in %s",
		applied(st), st.AppliedSeq, time.Since(start).Round(time.Microsecond))}, nil
}

func applied(st stream.Stats) uint64 {
	var n uint64
	for _, c := range st.Channels {
		n += c.Applied
	}
	return n
}
