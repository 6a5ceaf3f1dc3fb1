package conntrack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// ChannelName is the name of the connection-tracking channel.
const ChannelName = "conntrack"

// DefaultReadBuffer is the default receive buffer of the event socket.
const DefaultReadBuffer = 32 << 20

// SourceConfig configures a Source.
type SourceConfig struct {
	// NetNS is a file descriptor of the network namespace whose table the
	// source reads; 0 is the caller's own.
	NetNS int
	// IsLocal reports whether an address belongs to this unit (SYNC-3);
	// required. LocalAddrs.Contains keeps it current.
	IsLocal func(netip.Addr) bool
	// ExcludeMark and ExcludeMask exclude flows by conntrack mark (SYNC-6).
	ExcludeMark, ExcludeMask uint32
	// MinAge delays a new connection until it has lived this long, and
	// drops it if it ends before (SYNC-5). Zero syncs at once.
	MinAge time.Duration
	// Refresh is the period of the scan that re-sends flows whose timeout
	// was pushed later by traffic (the kernel sends no event for that).
	// The Sink's TimeoutMargin must be at least MarginFor(Refresh).
	// Default DefaultRefresh.
	Refresh time.Duration
	// ReadBuffer is the event socket's receive buffer in bytes. Default
	// DefaultReadBuffer.
	ReadBuffer int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Source produces the conntrack records of the active unit
// (channel.Source).
type Source struct {
	cfg   SourceConfig
	log   *slog.Logger
	table *table
	stats sourceCounters
}

// SourceStats are the source's counters since it was created.
type SourceStats struct {
	// Entries is the number of connections the source tracks.
	Entries                     int
	EventsNew, EventsUpdate     uint64
	EventsDestroy               uint64
	Upserts, Deletes, Refreshes uint64
	// Overruns counts netlink ENOBUFS on the event socket: events lost.
	Overruns                     uint64
	SkippedLocal, SkippedMark    uint64
	SkippedState, YoungDropped   uint64
	Scans, Snapshots, Unreadable uint64
}

type sourceCounters struct {
	evNew, evUpdate, evDestroy, upserts, deletes, refreshes, overruns atomic.Uint64
	skippedLocal, skippedMark, skippedState, youngDropped             atomic.Uint64
	scans, snapshots, unreadable                                      atomic.Uint64
}

// NewSource checks cfg and returns a Source; it opens sockets only in
// Watch and Snapshot.
func NewSource(cfg SourceConfig) (*Source, error) {
	if cfg.IsLocal == nil {
		return nil, errors.New("conntrack source: IsLocal is required")
	}
	if cfg.MinAge < 0 || cfg.Refresh < 0 || cfg.ReadBuffer < 0 {
		return nil, fmt.Errorf("conntrack source: MinAge %s, Refresh %s and ReadBuffer %d must not be negative", cfg.MinAge, cfg.Refresh, cfg.ReadBuffer)
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = DefaultReadBuffer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Source{cfg: cfg, log: cfg.Logger}
	s.table = newTable(Filter{IsLocal: cfg.IsLocal, ExcludeMark: cfg.ExcludeMark, ExcludeMask: cfg.ExcludeMask},
		cfg.MinAge, cfg.Refresh, &s.stats)
	return s, nil
}

// Name is the channel name, "conntrack".
func (s *Source) Name() string { return ChannelName }

// Stats returns the source's counters.
func (s *Source) Stats() SourceStats {
	c := &s.stats
	return SourceStats{
		Entries:   s.table.size(),
		EventsNew: c.evNew.Load(), EventsUpdate: c.evUpdate.Load(), EventsDestroy: c.evDestroy.Load(),
		Upserts: c.upserts.Load(), Deletes: c.deletes.Load(), Refreshes: c.refreshes.Load(),
		Overruns: c.overruns.Load(), SkippedLocal: c.skippedLocal.Load(), SkippedMark: c.skippedMark.Load(),
		SkippedState: c.skippedState.Load(), YoungDropped: c.youngDropped.Load(),
		Scans: c.scans.Load(), Snapshots: c.snapshots.Load(), Unreadable: c.unreadable.Load(),
	}
}

// Snapshot dumps the kernel table and returns every synced connection as
// an Upsert record (bulk sync, SYNC-7). Connections still younger than
// MinAge are left to Watch.
func (s *Source) Snapshot(ctx context.Context) ([]channel.Record, error) {
	s.stats.snapshots.Add(1)
	start := time.Now()
	var out []channel.Record
	err := s.dumpFlows(ctx, func(f Flow) {
		if r, ok := s.table.snapshotRecord(f, time.Now(), start); ok {
			out = append(out, r)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("conntrack snapshot: %w", err)
	}
	s.table.sweep(start, false, nil)
	return out, nil
}

// dumpFlows reads the whole table (both families, all zones).
func (s *Source) dumpFlows(ctx context.Context, fn func(Flow)) error {
	nl, err := dialNetlink(unix.NETLINK_NETFILTER, s.cfg.NetNS)
	if err != nil {
		return err
	}
	defer nl.Close()
	return nl.dump(ctx, ctMsgType(ctMsgGet), unix.AF_UNSPEC, func(p []byte) error {
		if len(p) < nfgenHeaderLen {
			return nil
		}
		f, err := parseFlow(p[0], p[nfgenHeaderLen:])
		if err != nil {
			s.stats.unreadable.Add(1)
			s.log.Warn("statesync conntrack: unreadable kernel entry skipped", "err", err)
			return nil
		}
		fn(f)
		return nil
	})
}

// event is one kernel event, or an overrun (ENOBUFS) marker.
type event struct {
	kind    uint8 // evNew, evUpdate, evDestroy, evOverrun
	flow    Flow
	readAt  time.Time
	readErr error
}

const (
	evNew = iota
	evUpdate
	evDestroy
	evOverrun
)

// Watch follows the kernel's NEW, UPDATE and DESTROY events and emits
// their records until ctx ends (then it returns nil) or the event socket
// fails. A receive-buffer overrun (ENOBUFS) is counted and reported
// through lost, so that the stream resyncs. emit and lost are called
// from one goroutine.
func (s *Source) Watch(ctx context.Context, emit func(channel.Record), lost func(reason string)) error {
	nl, err := dialNetlink(unix.NETLINK_NETFILTER, s.cfg.NetNS, groupCTNew, groupCTUpdate, groupCTDestroy)
	if err != nil {
		return fmt.Errorf("conntrack watch: %w", err)
	}
	if err := nl.setBuffers(s.cfg.ReadBuffer, 0); err != nil {
		nl.Close()
		return fmt.Errorf("conntrack watch: %w", err)
	}
	s.log.Info("statesync conntrack: watching events", "receive_buffer", nl.readBuffer())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	events := make(chan []event, 256)
	go s.readEvents(ctx, nl, events)

	var ageTick <-chan time.Time
	if s.cfg.MinAge > 0 {
		t := time.NewTicker(min(max(s.cfg.MinAge/4, 10*time.Millisecond), time.Second))
		defer t.Stop()
		ageTick = t.C
	}
	refresh := time.NewTicker(s.cfg.Refresh)
	defer refresh.Stop()
	type scanResult struct {
		start time.Time
		flows []Flow
		err   error
	}
	scans := make(chan scanResult, 1)
	scanning := false

	var lastOverrunLog time.Time
	var out []channel.Record
	flush := func() {
		for _, r := range out {
			emit(r)
		}
		out = out[:0]
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case batch, ok := <-events:
			if !ok {
				return nil
			}
			for _, ev := range batch {
				switch ev.kind {
				case evOverrun:
					if ev.readErr != nil {
						return fmt.Errorf("conntrack watch: %w", ev.readErr)
					}
					s.stats.overruns.Add(1)
					flush()
					if now := time.Now(); now.Sub(lastOverrunLog) >= time.Second {
						lastOverrunLog = now
						s.log.Warn("statesync conntrack: event socket overrun, changes lost", "overruns", s.stats.overruns.Load())
					}
					lost("conntrack event socket overrun (ENOBUFS)")
				case evDestroy:
					out = s.table.destroyed(ev.flow, ev.readAt, out)
				case evNew:
					out = s.table.observe(obsNew, ev.flow, ev.readAt, time.Time{}, out)
				case evUpdate:
					out = s.table.observe(obsUpdate, ev.flow, ev.readAt, time.Time{}, out)
				}
			}
			flush()
		case now := <-ageTick:
			out = s.table.due(now, out)
			flush()
		case <-refresh.C:
			if scanning {
				continue
			}
			scanning = true
			go func() {
				r := scanResult{start: time.Now()}
				r.err = s.dumpFlows(ctx, func(f Flow) { r.flows = append(r.flows, f) })
				scans <- r
			}()
		case r := <-scans:
			scanning = false
			if r.err != nil {
				if ctx.Err() == nil {
					s.log.Warn("statesync conntrack: refresh scan failed", "err", r.err)
				}
				continue
			}
			s.stats.scans.Add(1)
			now := time.Now()
			for _, f := range r.flows {
				out = s.table.observe(obsScan, f, now, r.start, out)
			}
			out = s.table.sweep(r.start, true, out)
			flush()
		}
	}
}

// readEvents reads the event socket until ctx ends, passing each
// datagram's events to the Watch loop.
func (s *Source) readEvents(ctx context.Context, nl *nlConn, events chan<- []event) {
	defer close(events)
	defer nl.Close()
	for {
		b, err := nl.recv(ctx)
		now := time.Now()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, unix.ENOBUFS):
			if !send(ctx, events, []event{{kind: evOverrun}}) {
				return
			}
			continue
		case err != nil:
			send(ctx, events, []event{{kind: evOverrun, readErr: err}})
			return
		}
		var batch []event
		_ = eachMessage(b, func(h nlHeader, p []byte) error {
			if h.Type>>8 != nfnlSubsysCTNetlink || len(p) < nfgenHeaderLen {
				return nil
			}
			f, err := parseFlow(p[0], p[nfgenHeaderLen:])
			if err != nil {
				s.stats.unreadable.Add(1)
				s.log.Warn("statesync conntrack: unreadable event skipped", "err", err)
				return nil
			}
			ev := event{flow: f, readAt: now}
			switch {
			case h.Type&0xff == ctMsgDelete:
				ev.kind = evDestroy
				s.stats.evDestroy.Add(1)
			case h.Flags&unix.NLM_F_CREATE != 0:
				ev.kind = evNew
				s.stats.evNew.Add(1)
			default:
				ev.kind = evUpdate
				s.stats.evUpdate.Add(1)
			}
			batch = append(batch, ev)
			return nil
		})
		if len(batch) > 0 && !send(ctx, events, batch) {
			return
		}
	}
}

func send(ctx context.Context, events chan<- []event, batch []event) bool {
	select {
	case events <- batch:
		return true
	case <-ctx.Done():
		return false
	}
}
