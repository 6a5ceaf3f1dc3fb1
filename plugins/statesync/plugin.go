package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/statesync/conntrack"
	"github.com/tandem-ha/tandem/plugins/statesync/expect"
	"github.com/tandem-ha/tandem/plugins/statesync/neigh"
	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/route"
	"github.com/tandem-ha/tandem/plugins/statesync/stream"
	"github.com/tandem-ha/tandem/plugins/statesync/xfrm"
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
	// pub is the publish socket's server. It outlives endpoint rebuilds,
	// so that what services published survives a change of the stream's
	// settings; it closes when stateful sync is turned off.
	pub *publishing
	// routes is the routes channel's Sink. It outlives endpoint rebuilds
	// too, so that a settings change does not lose a running route
	// hold-down (TKO-5); when routes are no longer synced it removes the
	// routes it installed and closes.
	routes *routing
}

// publishing is a publish server and what it was started with.
type publishing struct {
	path     string
	channels []publish.ChannelConfig
	srv      *publish.Server
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
		if p.pub != nil {
			_ = p.pub.srv.Close()
			p.pub = nil
			changes++
		}
		if p.dropRoutesLocked(ctx) {
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
			p.routeRoleLocked(ctx, p.role, role, spec)
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
// but the key, which changes in place (SEC-1), and the route hold-down,
// which is read at the next takeover (TKO-5).
func sameStream(a, b *sdk.StatesyncSpec) bool {
	return a.GetLocal() == b.GetLocal() && a.GetPeer() == b.GetPeer() && a.GetEncrypt() == b.GetEncrypt() &&
		a.GetRateBytesPerSecond() == b.GetRateBytesPerSecond() && a.GetMinAgeSeconds() == b.GetMinAgeSeconds() &&
		a.GetNoSyncMark() == b.GetNoSyncMark() && slices.Equal(a.GetChannels(), b.GetChannels()) &&
		slices.Equal(a.GetLocalAddresses(), b.GetLocalAddresses()) && a.GetPublishSocket() == b.GetPublishSocket() &&
		a.GetDhcpLeaseIntervalSeconds() == b.GetDhcpLeaseIntervalSeconds() &&
		a.GetCertificateIntervalSeconds() == b.GetCertificateIntervalSeconds()
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

// channels builds the stream's channels that spec asks for, keyed by the
// tandem-statesync category names.
func (p *plugin) channels(ctx context.Context, r *running, spec *sdk.StatesyncSpec) ([]stream.Channel, error) {
	static := map[netip.Addr]bool{}
	for _, s := range spec.GetLocalAddresses() {
		if a, err := netip.ParseAddr(s); err == nil {
			static[a] = true
		}
	}
	want := func(c string) bool { return slices.Contains(spec.GetChannels(), c) }
	// local is the unit's addresses (kept current) and the configured
	// (virtual) ones, shared by the channels that need them.
	var isLocal func(netip.Addr) bool
	local := func() (func(netip.Addr) bool, error) {
		if isLocal != nil {
			return isLocal, nil
		}
		addrs, err := conntrack.NewLocalAddrs(ctx, 0, p.log)
		if err != nil {
			return nil, fmt.Errorf("statesync: watching the unit's addresses: %w", err)
		}
		r.local = addrs
		isLocal = func(a netip.Addr) bool { return static[a.Unmap()] || addrs.Contains(a) }
		return isLocal, nil
	}
	var out []stream.Channel
	if want("connections") {
		isLocal, err := local()
		if err != nil {
			return nil, err
		}
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
	if want("ipsec") {
		src, err := xfrm.NewSource(xfrm.SourceConfig{Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		sink, err := xfrm.NewSink(xfrm.SinkConfig{Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		r.closer = append(r.closer, sink.Close)
		out = append(out, stream.Channel{Source: src, Sink: sink})
	}
	if want("expectations") {
		isLocal, err := local()
		if err != nil {
			return nil, err
		}
		src, err := expect.NewSource(expect.SourceConfig{IsLocal: isLocal, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		sink, err := expect.NewSink(expect.SinkConfig{IsLocal: isLocal, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		r.closer = append(r.closer, sink.Close)
		out = append(out, stream.Channel{Source: src, Sink: sink})
	}
	// The HA link (the interface holding the stream's local address) is
	// not a data interface; loopback never is.
	ha := haLinks(spec.GetLocal())
	data := func(name string) bool { return !ha[name] }
	if want("arp") {
		isLocal, err := local()
		if err != nil {
			return nil, err
		}
		src, err := neigh.NewSource(neigh.SourceConfig{Interfaces: data, IsLocal: isLocal, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		sink, err := neigh.NewSink(neigh.SinkConfig{Interfaces: data, IsLocal: isLocal, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		r.closer = append(r.closer, sink.Close)
		out = append(out, stream.Channel{Source: src, Sink: sink})
	}
	if want("routes") {
		sink, err := p.routeSinkLocked(ctx, ha, spec)
		if err != nil {
			return nil, err
		}
		src, err := route.NewSource(route.SourceConfig{Interfaces: data, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		out = append(out, stream.Channel{Source: src, Sink: sink})
	} else {
		p.dropRoutesLocked(ctx)
	}
	pub, err := p.publishServer(spec)
	if err != nil {
		return nil, err
	}
	if pub != nil {
		for _, st := range pub.Stores() {
			out = append(out, stream.Channel{Source: st, Sink: st})
		}
	}
	return out, nil
}

// haLinks returns the interfaces that hold the address of the stream's
// local endpoint local ("address:port"): the HA links.
func haLinks(local string) map[string]bool {
	out := map[string]bool{}
	ap, err := netip.ParseAddrPort(local)
	if err != nil {
		return out
	}
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr() == ap.Addr().Unmap() {
				out[ifc.Name] = true
			}
		}
	}
	return out
}

// publishServer returns the publish server for spec, keeping the running
// one (and what services published to it) when its socket and channels
// are unchanged; nil when no published channel is asked for.
func (p *plugin) publishServer(spec *sdk.StatesyncSpec) (*publish.Server, error) {
	var channels []publish.ChannelConfig
	for _, name := range publishedChannels {
		if !slices.Contains(spec.GetChannels(), name) {
			continue
		}
		c := publish.DefaultChannel(name)
		switch {
		case name == publish.ChannelDHCPServerLeases && spec.GetDhcpLeaseIntervalSeconds() > 0:
			c.Interval = time.Duration(spec.GetDhcpLeaseIntervalSeconds()) * time.Second
		case name == publish.ChannelCertificates && spec.GetCertificateIntervalSeconds() > 0:
			c.Interval = time.Duration(spec.GetCertificateIntervalSeconds()) * time.Second
		}
		channels = append(channels, c)
	}
	path := spec.GetPublishSocket()
	if p.pub != nil && (p.pub.path != path || !slices.Equal(p.pub.channels, channels)) {
		_ = p.pub.srv.Close()
		p.pub = nil
	}
	if len(channels) == 0 || path == "" {
		return nil, nil
	}
	if p.pub == nil {
		srv, err := publish.Listen(publish.Config{Path: path, Channels: channels, Logger: p.log})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		p.pub = &publishing{path: path, channels: channels, srv: srv}
	}
	return p.pub.srv, nil
}

// publishedChannels are the categories whose state services publish on
// the publish socket (SYNC-8..11).
var publishedChannels = []string{publish.ChannelDHCPClient, publish.ChannelDNSCache, publish.ChannelPPPoE,
	publish.ChannelDHCPServerLeases, publish.ChannelCertificates}

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
