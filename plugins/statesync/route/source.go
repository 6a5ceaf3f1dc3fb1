package route

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/nlsock"
)

// ChannelName is the channel's name, the tandem-statesync category.
const ChannelName = "routes"

// DefaultReadBuffer is the default receive buffer of the event socket.
const DefaultReadBuffer = 4 << 20

// SourceConfig configures a Source.
type SourceConfig struct {
	// NetNS is a file descriptor of the network namespace to read; 0 is
	// the caller's own.
	NetNS int
	// Interfaces reports whether routes via an interface are synced: the
	// data interfaces, not the HA links. A route with a nexthop on an
	// interface it refuses is not synced. nil allows every interface;
	// loopback never is.
	Interfaces func(ifname string) bool
	// ReadBuffer is the event socket's receive buffer; default
	// DefaultReadBuffer.
	ReadBuffer int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Source produces the route records of the active unit (channel.Source).
// Its methods are safe for concurrent use.
type Source struct {
	cfg SourceConfig
	log *slog.Logger

	mu    sync.Mutex
	sent  map[string]string // key -> value of what the standby holds
	links map[int32]string

	events, upserts, deletes, overruns, rereads atomic.Uint64
	unreadable, unsupported                     atomic.Uint64
}

// SourceStats are a Source's counters.
type SourceStats struct {
	Routes                                      int
	Events, Upserts, Deletes, Overruns, Rereads uint64
	// Unreadable counts events that did not parse; Unsupported events of
	// dynamic routes a record cannot carry (a gateway of the other
	// family, a source prefix, a nexthop object reported without its
	// nexthops, a scope other than universe and link).
	Unreadable, Unsupported uint64
}

// NewSource checks cfg and returns a Source; sockets are opened by
// Snapshot and Watch.
func NewSource(cfg SourceConfig) (*Source, error) {
	if cfg.ReadBuffer < 0 {
		return nil, fmt.Errorf("route source: ReadBuffer %d is negative", cfg.ReadBuffer)
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = DefaultReadBuffer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, log: cfg.Logger, sent: map[string]string{}}, nil
}

// Name is "routes".
func (s *Source) Name() string { return ChannelName }

// Stats returns the counters.
func (s *Source) Stats() SourceStats {
	s.mu.Lock()
	n := len(s.sent)
	s.mu.Unlock()
	return SourceStats{Routes: n, Events: s.events.Load(), Upserts: s.upserts.Load(), Deletes: s.deletes.Load(),
		Overruns: s.overruns.Load(), Rereads: s.rereads.Load(), Unreadable: s.unreadable.Load(), Unsupported: s.unsupported.Load()}
}

// routeOf turns a kernel route into a synced Route. synced is false for
// routes that are not synced: other tables, types and protocols (see
// Dynamic), cached clones, and routes with a nexthop on loopback or on an
// unknown or excluded interface. carriable is false for a dynamic route
// of the main table a record cannot carry.
func (s *Source) routeOf(k *kroute) (r Route, synced, carriable bool) {
	if k.table != unix.RT_TABLE_MAIN || k.typ != unix.RTN_UNICAST || k.flags&unix.RTM_F_CLONED != 0 || !Dynamic(k.protocol) {
		return Route{}, false, true
	}
	if k.odd || k.srcLen != 0 || len(k.hops) == 0 || len(k.hops) > maxNexthops ||
		(k.scope != unix.RT_SCOPE_UNIVERSE && k.scope != unix.RT_SCOPE_LINK) {
		return Route{}, false, false
	}
	r = k.key()
	r.Protocol, r.Scope = k.protocol, k.scope
	for _, h := range k.hops {
		name, ok := s.links[h.ifindex]
		if !ok || name == "lo" || len(name) > ifnameMax || (s.cfg.Interfaces != nil && !s.cfg.Interfaces(name)) {
			return Route{}, false, true
		}
		r.Nexthops = append(r.Nexthops, Nexthop{Gateway: h.gw, Ifname: name, Weight: int(h.hops) + 1})
	}
	return r, true, true
}

// current reads the links and routes of the namespace and returns the
// synced routes' records, in the kernel's order; s.links is updated.
func (s *Source) current(ctx context.Context, c *netlink.Conn) ([]channel.Record, error) {
	links, err := nlsock.Links(ctx, c)
	if err != nil {
		return nil, err
	}
	ks, err := dumpRoutes(ctx, c)
	if err != nil {
		return nil, err
	}
	s.links = links
	out := make([]channel.Record, 0, len(ks))
	for i := range ks {
		if r, ok, _ := s.routeOf(&ks[i]); ok {
			out = append(out, UpsertRecord(&r))
		}
	}
	return out, nil
}

// Snapshot dumps the routing tables and returns every synced route
// (bulk sync, SYNC-7).
func (s *Source) Snapshot(ctx context.Context) ([]channel.Record, error) {
	c, err := dial(s.cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("route snapshot: %w", err)
	}
	defer c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.current(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("route snapshot: %w", err)
	}
	s.sent = make(map[string]string, len(recs))
	for _, r := range recs {
		s.sent[string(r.Key)] = string(r.Value)
	}
	return recs, nil
}

// Watch follows the route, link and IPv4 address events until ctx ends
// (it then returns nil) or a socket fails. A new or changed synced route
// emits an Upsert, a deleted one a Delete. The kernel removes IPv4
// routes without an event when their interface goes down or loses its
// last address, and a deleted IPv6 multipath nexthop leaves the others
// in place; so a link event, an address removal, and a route event that
// does not match what was sent make Watch re-read the tables and send
// the difference. A receive buffer overrun is reported through lost.
func (s *Source) Watch(ctx context.Context, emit func(channel.Record), lost func(reason string)) error {
	sub := nlsock.Subscription{Proto: unix.NETLINK_ROUTE, Name: "rtnetlink", NetNS: s.cfg.NetNS,
		Groups:     []uint32{unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR},
		ReadBuffer: s.cfg.ReadBuffer}
	overrun := func() {
		s.overruns.Add(1)
		s.log.Warn("statesync routes: event socket overrun, changes lost")
		lost("route event socket overrun (ENOBUFS)")
	}
	err := nlsock.Follow(ctx, sub, overrun, func(q *netlink.Conn, msgs []netlink.Message) error {
		reread := false
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.RTM_NEWLINK, unix.RTM_DELLINK, unix.RTM_DELADDR:
				reread = true
			case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
				reread = s.event(m, emit) || reread
			}
		}
		if reread {
			return s.reread(ctx, q, emit)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("route watch: %w", err)
	}
	return nil
}

// event handles one route message; it reports whether the tables must
// be re-read: an event it cannot settle alone.
func (s *Source) event(m netlink.Message, emit func(channel.Record)) (reread bool) {
	k, ok, err := parseRoute(m.Data)
	if err != nil {
		s.unreadable.Add(1)
		s.log.Warn("statesync routes: unreadable event skipped", "err", err)
		return false
	}
	if !ok {
		return false
	}
	s.events.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range k.hops {
		if _, known := s.links[h.ifindex]; !known {
			return true // a new interface: the re-read learns its name
		}
	}
	r, synced, carriable := s.routeOf(&k)
	if !carriable {
		s.unsupported.Add(1)
	}
	id := k.key()
	key := AppendKey(nil, &id)
	sent, was := s.sent[string(key)]
	if m.Header.Type == unix.RTM_DELROUTE {
		if !was {
			return false
		}
		if !synced || string(AppendValue(nil, &r)) != sent {
			// Part of a multipath route, or another route with the same
			// key: the kernel may still hold what was sent.
			return true
		}
		delete(s.sent, string(key))
		s.deletes.Add(1)
		emit(channel.Record{Op: channel.Delete, Key: key})
		return false
	}
	if !synced {
		// A route that is not synced took, or joined, the key of a synced
		// one.
		return was
	}
	rec := UpsertRecord(&r)
	if sent == string(rec.Value) && was {
		return false
	}
	s.sent[string(rec.Key)] = string(rec.Value)
	s.upserts.Add(1)
	emit(rec)
	return false
}

// reread reads the tables and sends the difference to what was sent.
func (s *Source) reread(ctx context.Context, q *netlink.Conn, emit func(channel.Record)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.current(ctx, q)
	if err != nil {
		return err
	}
	s.rereads.Add(1)
	now := make(map[string]string, len(recs))
	for _, r := range recs {
		now[string(r.Key)] = string(r.Value)
		if s.sent[string(r.Key)] != string(r.Value) {
			s.upserts.Add(1)
			emit(r)
		}
	}
	for k := range s.sent {
		if _, ok := now[k]; !ok {
			s.deletes.Add(1)
			emit(channel.Record{Op: channel.Delete, Key: []byte(k)})
		}
	}
	s.sent = now
	return nil
}
