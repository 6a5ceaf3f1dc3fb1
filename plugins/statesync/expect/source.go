package expect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/nlsock"
)

// ChannelName is the channel's name, the tandem-statesync category.
const ChannelName = "expectations"

// Defaults of the zero SourceConfig fields.
const (
	DefaultRefresh    = 5 * time.Second
	DefaultReadBuffer = 4 << 20
)

// SourceConfig configures a Source.
type SourceConfig struct {
	// NetNS is a file descriptor of the network namespace to read; 0 is
	// the caller's own.
	NetNS int
	// IsLocal reports the unit's own addresses: expectations of
	// connections the unit itself opened are not synced (SYNC-3).
	// Optional.
	IsLocal func(netip.Addr) bool
	// Refresh is the period of the table scan that catches expectations
	// the kernel sent no event for (see docs) and heals the standby.
	// Default DefaultRefresh.
	Refresh time.Duration
	// ReadBuffer is the event socket's receive buffer. Default
	// DefaultReadBuffer.
	ReadBuffer int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Source produces the expectation records of the active unit
// (channel.Source). Its methods are safe for concurrent use.
type Source struct {
	cfg SourceConfig
	log *slog.Logger

	mu   sync.Mutex
	sent map[string]string // key -> value without the timeout

	events, upserts, deletes, overruns, scans, unreadable atomic.Uint64
}

// SourceStats are a Source's counters.
type SourceStats struct {
	Entries                            int
	Events, Upserts, Deletes, Overruns uint64
	Scans, Unreadable                  uint64
}

// NewSource checks cfg and returns a Source; sockets are opened by
// Snapshot and Watch.
func NewSource(cfg SourceConfig) (*Source, error) {
	if cfg.Refresh < 0 || cfg.ReadBuffer < 0 {
		return nil, fmt.Errorf("expectation source: Refresh %s and ReadBuffer %d must not be negative", cfg.Refresh, cfg.ReadBuffer)
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
	return &Source{cfg: cfg, log: cfg.Logger, sent: map[string]string{}}, nil
}

// Name is "expectations".
func (s *Source) Name() string { return ChannelName }

// Stats returns the counters.
func (s *Source) Stats() SourceStats {
	s.mu.Lock()
	n := len(s.sent)
	s.mu.Unlock()
	return SourceStats{Entries: n, Events: s.events.Load(), Upserts: s.upserts.Load(), Deletes: s.deletes.Load(),
		Overruns: s.overruns.Load(), Scans: s.scans.Load(), Unreadable: s.unreadable.Load()}
}

// synced reports whether x is synced.
func (s *Source) synced(x *Expectation) bool {
	if !Supported(x.Tuple.Proto) || x.Master.Proto == 0 {
		return false
	}
	return s.cfg.IsLocal == nil || !s.cfg.IsLocal(x.Master.Src)
}

// static is x's value without the timeout, which falls every second and
// is no reason to re-send.
func static(x *Expectation) string {
	y := *x
	y.Timeout = 0
	return string(AppendValue(nil, &y))
}

func (s *Source) bad(err error) {
	s.unreadable.Add(1)
	s.log.Warn("statesync expectations: unreadable kernel entry skipped", "err", err)
}

func (s *Source) dump(ctx context.Context) ([]Expectation, error) {
	c, err := dial(s.cfg.NetNS)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return dumpExpectations(ctx, c, s.bad)
}

// Snapshot dumps the expectation table and returns every synced
// expectation (bulk sync, SYNC-7).
func (s *Source) Snapshot(ctx context.Context) ([]channel.Record, error) {
	xs, err := s.dump(ctx)
	if err != nil {
		return nil, fmt.Errorf("expectation snapshot: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = make(map[string]string, len(xs))
	out := make([]channel.Record, 0, len(xs))
	for i := range xs {
		if !s.synced(&xs[i]) {
			continue
		}
		r := UpsertRecord(&xs[i])
		s.sent[string(r.Key)] = static(&xs[i])
		out = append(out, r)
	}
	return out, nil
}

// observe emits an Upsert for x if it is new or changed (s.mu held).
func (s *Source) observe(x *Expectation, emit func(channel.Record)) {
	if !s.synced(x) {
		return
	}
	k := string(AppendKey(nil, x))
	st := static(x)
	if v, ok := s.sent[k]; ok && v == st {
		return
	}
	s.sent[k] = st
	s.upserts.Add(1)
	emit(channel.Record{Op: channel.Upsert, Key: []byte(k), Value: AppendValue(nil, x)})
}

func (s *Source) gone(k string, emit func(channel.Record)) {
	if _, ok := s.sent[k]; !ok {
		return
	}
	delete(s.sent, k)
	s.deletes.Add(1)
	emit(channel.Record{Op: channel.Delete, Key: []byte(k)})
}

// Watch follows the kernel's expectation NEW and DESTROY events and scans
// the table every Refresh, emitting records until ctx ends (it then
// returns nil) or the event socket fails. An overrun is reported through
// lost.
func (s *Source) Watch(ctx context.Context, emit func(channel.Record), lost func(reason string)) error {
	c, err := dial(s.cfg.NetNS, groupExpNew, groupExpDestroy)
	if err != nil {
		return fmt.Errorf("expectation watch: %w", err)
	}
	if err := c.SetReadBuffer(s.cfg.ReadBuffer); err != nil {
		c.Close()
		return fmt.Errorf("expectation watch: receive buffer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := nlsock.Receive(ctx, c)
	tick := time.NewTicker(s.cfg.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-events:
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(b.Err, unix.ENOBUFS):
				s.overruns.Add(1)
				s.log.Warn("statesync expectations: event socket overrun, changes lost")
				lost("expectation event socket overrun (ENOBUFS)")
				continue
			case b.Err != nil:
				return fmt.Errorf("expectation watch: %w", b.Err)
			}
			s.mu.Lock()
			for _, m := range b.Msgs {
				s.event(m, emit)
			}
			s.mu.Unlock()
		case <-tick.C:
			xs, err := s.dump(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("statesync expectations: scan failed", "err", err)
				}
				continue
			}
			s.scans.Add(1)
			s.mu.Lock()
			seen := make(map[string]bool, len(xs))
			for i := range xs {
				seen[string(AppendKey(nil, &xs[i]))] = true
				s.observe(&xs[i], emit)
			}
			for k := range s.sent {
				if !seen[k] {
					s.gone(k, emit)
				}
			}
			s.mu.Unlock()
		}
	}
}

// event handles one event message (s.mu held).
func (s *Source) event(m netlink.Message, emit func(channel.Record)) {
	if m.Header.Type>>8 != subsysExp {
		return
	}
	x, err := parseExpectation(m.Data)
	if err != nil {
		s.bad(err)
		return
	}
	s.events.Add(1)
	if m.Header.Type&0xff == expDelete {
		s.gone(string(AppendKey(nil, &x)), emit)
		return
	}
	s.observe(&x, emit)
}
