package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/nlsock"
)

// SinkConfig configures a Sink.
type SinkConfig struct {
	// NetNS is a file descriptor of the network namespace to write; 0 is
	// the caller's own.
	NetNS int
	// Interfaces reports whether routes may be installed via an
	// interface (not via the HA links); nil allows every interface but
	// loopback.
	Interfaces func(ifname string) bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Sink installs route records on the standby (channel.Sink): into the
// main table, via the interfaces with the records' names, tagged
// Protocol, with the carried metric plus MetricOffset. It only ever
// removes routes tagged Protocol. It is safe for concurrent use.
//
// When the unit takes over, HoldDown keeps the installed routes for the
// hold-down time and then removes those no routing daemon has replaced
// (TKO-5). Close leaves the installed routes in place: a standby whose
// plugin restarts keeps forwarding on them until the next bulk sync's
// Replace removes those the active no longer has.
type Sink struct {
	cfg SinkConfig
	log *slog.Logger

	mu        sync.Mutex
	c         *netlink.Conn
	links     map[string]int32
	installed map[string]struct{}
	// active is set by HoldDown and cleared by Resume: an active unit
	// installs nothing, so nothing comes back after the hold-down.
	active bool
	// hold is the pending end of a hold-down; holdGen tells a timer that
	// fired after Resume, Close or a later HoldDown that it is stale.
	hold    *time.Timer
	holdGen uint64

	installs, deletes, failed, malformed         atomic.Uint64
	unknownIf, kept, removedStale, ignoredActive atomic.Uint64
	holdDowns, removedHeld, relearned            atomic.Uint64
}

// MetricOffset is added to a route's metric (priority) when the Sink
// installs it. A routing daemon that relearns the route with its
// original metric then adds its own next to the Sink's, even with
// NLM_F_EXCL (BIRD adds a route it did not have that way; the same key
// would make it fail with EEXIST), and the kernel prefers the relearned
// route at once.
const MetricOffset = 1

// kernelRoute is r as the Sink installs it: with MetricOffset added to
// its priority; ok is false if that overflows.
func kernelRoute(r Route) (Route, bool) {
	if r.Priority > math.MaxUint32-MetricOffset {
		return r, false
	}
	r.Priority += MetricOffset
	return r, true
}

// SinkStats are a Sink's counters.
type SinkStats struct {
	Routes                                int
	Installed, Deleted, Failed, Malformed uint64
	// UnknownInterface counts records via an interface this unit lacks
	// (or excludes); Kept records not installed because the standby
	// holds a route of its own where the Sink would install (same
	// destination, TOS and metric + MetricOffset); IgnoredActive records
	// that arrived while the unit was active.
	UnknownInterface, Kept, IgnoredActive uint64
	RemovedByReplace                      uint64
	// HoldDowns counts hold-downs that ran to their end; RemovedByHoldDown
	// the routes they removed; Relearned the prefixes a routing daemon
	// had relearned by then.
	HoldDowns, RemovedByHoldDown, Relearned uint64
}

// NewSink opens an rtnetlink socket in cfg.NetNS.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c, err := dial(cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("route sink: %w", err)
	}
	return &Sink{cfg: cfg, log: cfg.Logger, c: c, installed: map[string]struct{}{}}, nil
}

// Close cancels a pending hold-down and releases the socket; the
// installed routes stay.
func (s *Sink) Close() error {
	s.mu.Lock()
	s.cancelHoldLocked()
	s.mu.Unlock()
	return s.c.Close()
}

// Name is "routes".
func (s *Sink) Name() string { return ChannelName }

// Count is the number of routes the sink installed and has not removed.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.installed)
}

// Stats returns the counters.
func (s *Sink) Stats() SinkStats {
	return SinkStats{Routes: s.Count(), Installed: s.installs.Load(), Deleted: s.deletes.Load(), Failed: s.failed.Load(),
		Malformed: s.malformed.Load(), UnknownInterface: s.unknownIf.Load(), Kept: s.kept.Load(),
		IgnoredActive: s.ignoredActive.Load(), RemovedByReplace: s.removedStale.Load(), HoldDowns: s.holdDowns.Load(),
		RemovedByHoldDown: s.removedHeld.Load(), Relearned: s.relearned.Load()}
}

// Apply installs records in order; the last record of a key wins. An
// Upsert creates the route or replaces the sink's own; it leaves a route
// of the standby's own in its place alone (Kept), and records via an
// unknown or excluded interface are skipped and counted, not errors. A
// Delete removes the route only if it carries Protocol. While the unit is
// active (after HoldDown, until Resume) records are ignored. An error
// names every record that failed.
func (s *Sink) Apply(ctx context.Context, records []channel.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active {
		s.ignoredActive.Add(uint64(len(records)))
		return nil
	}
	return s.apply(ctx, records)
}

// table is what the main table holds: the Sink's routes by their
// record key, and the keys of everyone else's.
type table struct {
	mine    map[string]Route // record key -> the route's kernel key
	foreign map[string]struct{}
}

func (s *Sink) apply(ctx context.Context, records []channel.Record) error {
	if s.links == nil {
		if err := s.readLinks(ctx); err != nil {
			return err
		}
	}
	cur, err := s.readRoutes(ctx)
	if err != nil {
		return err
	}
	reread := false
	var errs []error
	for i, r := range channel.Latest(records) {
		k := string(r.Key)
		var rt Route
		var err error
		switch r.Op {
		case channel.Upsert:
			rt, err = Decode(r.Key, r.Value)
		case channel.Delete:
			rt, err = DecodeKey(r.Key)
		default:
			err = fmt.Errorf("%w: op %d is neither upsert nor delete", ErrCodec, r.Op)
		}
		if err != nil {
			s.malformed.Add(1)
			errs = append(errs, fmt.Errorf("record %d: %w", i, err))
			continue
		}
		if r.Op == channel.Delete {
			if err := s.removeLocked(ctx, k, cur); err != nil {
				errs = append(errs, fmt.Errorf("record %d (delete %s): %w", i, rt.Dst, err))
			}
			continue
		}
		hops, ok := s.resolve(&rt)
		if !ok && !reread {
			reread = true
			if err := s.readLinks(ctx); err != nil {
				return err
			}
			hops, ok = s.resolve(&rt)
		}
		if !ok {
			s.unknownIf.Add(1)
			// The route moved to an interface this unit lacks: the copy
			// via the old one is stale.
			if err := s.removeLocked(ctx, k, cur); err != nil {
				errs = append(errs, fmt.Errorf("record %d (%s): %w", i, &rt, err))
			}
			continue
		}
		kr, ok := kernelRoute(rt)
		if !ok {
			s.failed.Add(1)
			errs = append(errs, fmt.Errorf("record %d (%s): metric %d + %d overflows", i, &rt, rt.Priority, MetricOffset))
			continue
		}
		if _, foreign := cur.foreign[string(AppendKey(nil, &kr))]; foreign {
			s.kept.Add(1)
			delete(s.installed, k)
			continue
		}
		if _, err := nlsock.Execute(ctx, s.c, netlink.Message{
			Header: netlink.Header{Type: unix.RTM_NEWROUTE, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace},
			Data:   newRouteMessage(&kr, hops),
		}); err != nil {
			s.failed.Add(1)
			errs = append(errs, fmt.Errorf("record %d (%s): %w", i, &rt, err))
			continue
		}
		s.installed[k] = struct{}{}
		s.installs.Add(1)
	}
	return channel.JoinErrors("route apply", errs)
}

// resolve maps rt's interface names to this unit's indexes; ok is false
// if one is unknown, loopback or excluded.
func (s *Sink) resolve(rt *Route) (hops []hop, ok bool) {
	for _, h := range rt.Nexthops {
		idx, known := s.links[h.Ifname]
		if !known || h.Ifname == "lo" || (s.cfg.Interfaces != nil && !s.cfg.Interfaces(h.Ifname)) {
			return nil, false
		}
		hops = append(hops, hop{ifindex: idx, Nexthop: h})
	}
	return hops, true
}

// removeLocked deletes the sink's route with record key k if cur holds
// one and forgets it.
func (s *Sink) removeLocked(ctx context.Context, k string, cur table) error {
	delete(s.installed, k)
	kr, mine := cur.mine[k]
	if !mine {
		return nil
	}
	if err := s.del(ctx, &kr); err != nil {
		s.failed.Add(1)
		return err
	}
	s.deletes.Add(1)
	return nil
}

// Replace applies snapshot, then removes every route tagged Protocol
// that the snapshot does not hold. Routes of any other protocol are
// never removed. While the unit is active it does nothing.
func (s *Sink) Replace(ctx context.Context, snapshot []channel.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active {
		s.ignoredActive.Add(uint64(len(snapshot)))
		return nil
	}
	applyErr := s.apply(ctx, snapshot)
	want := make(map[string]struct{}, len(snapshot))
	for _, r := range snapshot {
		if r.Op == channel.Upsert {
			want[string(r.Key)] = struct{}{}
		}
	}
	ks, err := s.mine(ctx)
	if err != nil {
		return errors.Join(applyErr, err)
	}
	var errs []error
	s.installed = make(map[string]struct{}, len(want))
	for _, kr := range ks {
		if rt, ok := recordRoute(kr); ok {
			k := string(AppendKey(nil, &rt))
			if _, ok := want[k]; ok {
				s.installed[k] = struct{}{}
				continue
			}
		}
		if err := s.del(ctx, &kr); err != nil {
			errs = append(errs, fmt.Errorf("remove stale %s metric %d: %w", kr.Dst, kr.Priority, err))
			continue
		}
		s.removedStale.Add(1)
	}
	return errors.Join(applyErr, channel.JoinErrors("route replace", errs))
}

func (s *Sink) readLinks(ctx context.Context) error {
	links, err := nlsock.LinkIndexes(ctx, s.c)
	if err != nil {
		return fmt.Errorf("route sink: %w", err)
	}
	s.links = links
	return nil
}

// mainRoutes reads the main table's routes (no cached clones).
func (s *Sink) mainRoutes(ctx context.Context) ([]kroute, error) {
	ks, err := dumpRoutes(ctx, s.c)
	if err != nil {
		return nil, fmt.Errorf("route sink: %w", err)
	}
	out := ks[:0]
	for _, k := range ks {
		if k.table == unix.RT_TABLE_MAIN && k.flags&unix.RTM_F_CLONED == 0 {
			out = append(out, k)
		}
	}
	return out, nil
}

// recordRoute is the record key of the Sink's route with kernel key kr:
// its priority less MetricOffset; ok is false if it is below that, which
// no route the Sink installed is.
func recordRoute(kr Route) (Route, bool) {
	if kr.Priority < MetricOffset {
		return kr, false
	}
	kr.Priority -= MetricOffset
	return kr, true
}

// readRoutes returns what the main table holds.
func (s *Sink) readRoutes(ctx context.Context) (table, error) {
	ks, err := s.mainRoutes(ctx)
	if err != nil {
		return table{}, err
	}
	t := table{mine: map[string]Route{}, foreign: make(map[string]struct{}, len(ks))}
	for i := range ks {
		kr := ks[i].key()
		if ks[i].protocol != Protocol {
			t.foreign[string(AppendKey(nil, &kr))] = struct{}{}
		} else if rt, ok := recordRoute(kr); ok {
			t.mine[string(AppendKey(nil, &rt))] = kr
		}
	}
	return t, nil
}

// mine returns the kernel keys of the routes tagged Protocol in the main
// table.
func (s *Sink) mine(ctx context.Context) ([]Route, error) {
	ks, err := s.mainRoutes(ctx)
	if err != nil {
		return nil, err
	}
	var out []Route
	for i := range ks {
		if ks[i].protocol == Protocol {
			out = append(out, ks[i].key())
		}
	}
	return out, nil
}

// del removes the route with kernel key rt if it carries Protocol; a
// route already gone is not an error.
func (s *Sink) del(ctx context.Context, rt *Route) error {
	_, err := nlsock.Execute(ctx, s.c, netlink.Message{
		Header: netlink.Header{Type: unix.RTM_DELROUTE, Flags: netlink.Request | netlink.Acknowledge},
		Data:   delRouteMessage(rt),
	})
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
