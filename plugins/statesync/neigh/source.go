package neigh

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/nlsock"
)

// ChannelName is the channel's name, the tandem-statesync category.
const ChannelName = "arp"

// DefaultReadBuffer is the default receive buffer of the event socket.
const DefaultReadBuffer = 4 << 20

// SourceConfig configures a Source.
type SourceConfig struct {
	// NetNS is a file descriptor of the network namespace to read; 0 is
	// the caller's own.
	NetNS int
	// Interfaces reports whether the neighbours of an interface are
	// synced: the data interfaces, not the HA links. nil syncs every
	// interface; loopback is never synced.
	Interfaces func(ifname string) bool
	// IsLocal reports addresses never synced (the unit's own); optional.
	IsLocal func(netip.Addr) bool
	// ReadBuffer is the event socket's receive buffer; default
	// DefaultReadBuffer.
	ReadBuffer int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Source produces the neighbour records of the active unit
// (channel.Source). Its methods are safe for concurrent use.
type Source struct {
	cfg SourceConfig
	log *slog.Logger

	mu    sync.Mutex
	sent  map[string]string // key -> value of what the standby holds
	links map[int32]string

	events, upserts, deletes, overruns, skipped atomic.Uint64
}

// SourceStats are a Source's counters.
type SourceStats struct {
	Entries                            int
	Events, Upserts, Deletes, Overruns uint64
	Skipped                            uint64
}

// NewSource checks cfg and returns a Source; sockets are opened by
// Snapshot and Watch.
func NewSource(cfg SourceConfig) (*Source, error) {
	if cfg.ReadBuffer < 0 {
		return nil, fmt.Errorf("neighbour source: ReadBuffer %d is negative", cfg.ReadBuffer)
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = DefaultReadBuffer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, log: cfg.Logger, sent: map[string]string{}}, nil
}

// Name is "arp".
func (s *Source) Name() string { return ChannelName }

// Stats returns the counters.
func (s *Source) Stats() SourceStats {
	s.mu.Lock()
	n := len(s.sent)
	s.mu.Unlock()
	return SourceStats{Entries: n, Events: s.events.Load(), Upserts: s.upserts.Load(), Deletes: s.deletes.Load(),
		Overruns: s.overruns.Load(), Skipped: s.skipped.Load()}
}

// entryOf turns a kernel entry into a synced Entry; ok is false for
// entries that are not synced: unresolved, failed, permanent (configured,
// not learned), NOARP, proxy, on loopback or an excluded interface, or
// for a local, multicast or unspecified address.
func (s *Source) entryOf(k kentry) (Entry, bool) {
	if k.state&nudValid == 0 || k.state&(nudPermanent|nudNoARP) != 0 || k.flags&ntfProxy != 0 {
		return Entry{}, false
	}
	if len(k.lladdr) == 0 || len(k.lladdr) > lladdrMax || allZero(k.lladdr) {
		return Entry{}, false
	}
	a := k.addr
	if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || (s.cfg.IsLocal != nil && s.cfg.IsLocal(a)) {
		return Entry{}, false
	}
	name, ok := s.links[k.ifindex]
	if !ok || name == "lo" || len(name) > ifnameMax || (s.cfg.Interfaces != nil && !s.cfg.Interfaces(name)) {
		return Entry{}, false
	}
	return Entry{Ifname: name, Addr: a, LLAddr: append([]byte(nil), k.lladdr...), Router: k.flags&ntfRouter != 0}, true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Snapshot dumps both neighbour tables and returns every synced entry
// (bulk sync, SYNC-7).
func (s *Source) Snapshot(ctx context.Context) ([]channel.Record, error) {
	c, err := dial(s.cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("neighbour snapshot: %w", err)
	}
	defer c.Close()
	links, err := nlsock.Links(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("neighbour snapshot: %w", err)
	}
	ks, err := dumpNeigh(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("neighbour snapshot: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links = links
	s.sent = make(map[string]string, len(ks))
	out := make([]channel.Record, 0, len(ks))
	for _, k := range ks {
		e, ok := s.entryOf(k)
		if !ok {
			continue
		}
		r := UpsertRecord(&e)
		s.sent[string(r.Key)] = string(r.Value)
		out = append(out, r)
	}
	return out, nil
}

// Watch follows RTM_NEWNEIGH and RTM_DELNEIGH until ctx ends (it then
// returns nil) or the socket fails. A new or changed resolution emits an
// Upsert (a mere state change such as REACHABLE -> STALE emits nothing);
// a deleted, failed or no longer synced entry emits a Delete. A receive
// buffer overrun is reported through lost.
func (s *Source) Watch(ctx context.Context, emit func(channel.Record), lost func(reason string)) error {
	sub := nlsock.Subscription{Proto: unix.NETLINK_ROUTE, Name: "rtnetlink", NetNS: s.cfg.NetNS,
		Groups: []uint32{unix.RTNLGRP_NEIGH}, ReadBuffer: s.cfg.ReadBuffer}
	overrun := func() {
		s.overruns.Add(1)
		s.log.Warn("statesync arp: event socket overrun, changes lost")
		lost("neighbour event socket overrun (ENOBUFS)")
	}
	err := nlsock.Follow(ctx, sub, overrun, func(q *netlink.Conn, msgs []netlink.Message) error {
		for _, m := range msgs {
			if err := s.event(ctx, q, m, emit); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("neighbour watch: %w", err)
	}
	return nil
}

// event handles one neighbour message.
func (s *Source) event(ctx context.Context, q *netlink.Conn, m netlink.Message, emit func(channel.Record)) error {
	if m.Header.Type != unix.RTM_NEWNEIGH && m.Header.Type != unix.RTM_DELNEIGH {
		return nil
	}
	k, ok, err := parseNeigh(m.Data)
	if err != nil {
		s.skipped.Add(1)
		s.log.Warn("statesync arp: unreadable event skipped", "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	s.events.Add(1)
	s.mu.Lock()
	_, known := s.links[k.ifindex]
	s.mu.Unlock()
	if !known {
		links, err := nlsock.Links(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("neighbour watch: %w", err)
		}
		s.mu.Lock()
		s.links = links
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, synced := s.entryOf(k)
	if !synced || m.Header.Type == unix.RTM_DELNEIGH {
		// The key needs the interface name, which may be gone: remove
		// every sent entry of this address on that interface index.
		name := s.links[k.ifindex]
		if name == "" {
			return nil
		}
		key := string(AppendKey(nil, &Entry{Ifname: name, Addr: k.addr}))
		if _, was := s.sent[key]; was {
			delete(s.sent, key)
			s.deletes.Add(1)
			emit(channel.Record{Op: channel.Delete, Key: []byte(key)})
		}
		return nil
	}
	r := UpsertRecord(&e)
	if s.sent[string(r.Key)] == string(r.Value) {
		return nil
	}
	s.sent[string(r.Key)] = string(r.Value)
	s.upserts.Add(1)
	emit(r)
	return nil
}
