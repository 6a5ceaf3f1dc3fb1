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
)

// Defaults of the zero SinkConfig fields.
const (
	DefaultTimeoutMargin = time.Second
	DefaultRetryInterval = 200 * time.Millisecond
)

// SinkConfig configures a Sink.
type SinkConfig struct {
	// NetNS is a file descriptor of the network namespace to write; 0 is
	// the caller's own.
	NetNS int
	// IsLocal reports the unit's own addresses: Replace leaves the
	// expectations of connections the unit opened itself. Optional.
	IsLocal func(netip.Addr) bool
	// TimeoutMargin is added to the carried remaining timeout (which the
	// kernel rounds down to seconds). Default DefaultTimeoutMargin.
	TimeoutMargin time.Duration
	// RetryInterval is how often an expectation whose master connection
	// is not installed yet is retried, until its timeout runs out.
	// Default DefaultRetryInterval.
	RetryInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Sink installs expectation records on the standby (channel.Sink). It is
// safe for concurrent use; Close stops it.
type Sink struct {
	cfg SinkConfig
	log *slog.Logger

	mu        sync.Mutex
	c         *netlink.Conn
	installed map[string]struct{}
	pending   map[string]waiting
	stop      context.CancelFunc
	done      chan struct{}

	created, deleted, failed, malformed, deferred, expired, removed atomic.Uint64
}

// waiting is an expectation whose master is not installed yet.
type waiting struct {
	x        Expectation
	deadline time.Time
}

// SinkStats are a Sink's counters.
type SinkStats struct {
	Entries, Pending   int
	Installed, Deleted uint64
	Failed, Malformed  uint64
	// Deferred counts expectations that arrived before their master
	// connection; Expired those whose timeout ran out while waiting.
	Deferred, Expired uint64
	RemovedByReplace  uint64
}

// NewSink opens a ctnetlink socket in cfg.NetNS and starts the retry of
// expectations waiting for their master.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.TimeoutMargin < 0 || cfg.RetryInterval < 0 {
		return nil, fmt.Errorf("expectation sink: TimeoutMargin %s and RetryInterval %s must not be negative", cfg.TimeoutMargin, cfg.RetryInterval)
	}
	if cfg.TimeoutMargin == 0 {
		cfg.TimeoutMargin = DefaultTimeoutMargin
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c, err := dial(cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("expectation sink: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sink{cfg: cfg, log: cfg.Logger, c: c, installed: map[string]struct{}{}, pending: map[string]waiting{},
		stop: cancel, done: make(chan struct{})}
	go s.retryLoop(ctx)
	return s, nil
}

// Close stops the retries and releases the socket.
func (s *Sink) Close() error {
	s.stop()
	<-s.done
	return s.c.Close()
}

// Name is "expectations".
func (s *Sink) Name() string { return ChannelName }

// Count is the number of expectations the sink installed and has not
// removed (waiting ones excluded).
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.installed)
}

// Stats returns the counters.
func (s *Sink) Stats() SinkStats {
	s.mu.Lock()
	n, p := len(s.installed), len(s.pending)
	s.mu.Unlock()
	return SinkStats{Entries: n, Pending: p, Installed: s.created.Load(), Deleted: s.deleted.Load(), Failed: s.failed.Load(),
		Malformed: s.malformed.Load(), Deferred: s.deferred.Load(), Expired: s.expired.Load(), RemovedByReplace: s.removed.Load()}
}

// Apply installs records in order; the last record of a key wins. An
// Upsert whose master connection is missing (not synced yet) waits and
// is retried until its timeout runs out; that is not an error. An error
// names every record that failed.
func (s *Sink) Apply(ctx context.Context, records []channel.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(ctx, records)
}

func (s *Sink) apply(ctx context.Context, records []channel.Record) error {
	var errs []error
	for i, r := range channel.Latest(records) {
		k := string(r.Key)
		switch r.Op {
		case channel.Upsert:
			x, err := Decode(r.Key, r.Value)
			if err != nil {
				s.malformed.Add(1)
				errs = append(errs, fmt.Errorf("record %d: %w", i, err))
				continue
			}
			delete(s.pending, k)
			if err := s.install(ctx, k, &x, time.Now().Add(time.Duration(x.Timeout)*time.Second)); err != nil {
				errs = append(errs, fmt.Errorf("record %d (%s): %w", i, &x, err))
			}
		case channel.Delete:
			x, _, err := DecodeKey(r.Key)
			if err != nil {
				s.malformed.Add(1)
				errs = append(errs, fmt.Errorf("record %d: %w", i, err))
				continue
			}
			delete(s.pending, k)
			if err := s.del(ctx, &x); err != nil {
				s.failed.Add(1)
				errs = append(errs, fmt.Errorf("record %d (delete %s): %w", i, &x, err))
				continue
			}
			if _, ok := s.installed[k]; ok {
				delete(s.installed, k)
				s.deleted.Add(1)
			}
		default:
			s.malformed.Add(1)
			errs = append(errs, fmt.Errorf("record %d: %w: op %d is neither upsert nor delete", i, ErrCodec, r.Op))
		}
	}
	return channel.JoinErrors("expectation apply", errs)
}

// install creates x (or updates its timeout) to expire at deadline plus
// the margin. A missing master puts it on the waiting list.
func (s *Sink) install(ctx context.Context, k string, x *Expectation, deadline time.Time) error {
	left := time.Until(deadline) + s.cfg.TimeoutMargin
	if left <= 0 {
		s.expired.Add(1)
		return nil
	}
	timeout := uint32(min((left+time.Second-1)/time.Second, 1<<31-1))
	// The first request creates the expectation with the helper's default
	// timeout, or sets the timeout of an existing one; the second sets the
	// timeout of the one just created. Only helpers with expectation
	// classes (SIP) get the helper named: that attaches it to the expected
	// connection, as the kernel does for their signalling expectations;
	// FTP's data connection must stay without a helper.
	for range 2 {
		_, err := execute(ctx, s.c, netlink.Message{
			Header: netlink.Header{Type: msgType(expNew), Flags: netlink.Request | netlink.Acknowledge | netlink.Create},
			Data:   createMessage(x, timeout, x.Class != 0),
		})
		if errors.Is(err, unix.ENOENT) {
			if _, was := s.pending[k]; !was {
				s.deferred.Add(1)
			}
			s.pending[k] = waiting{x: *x, deadline: deadline}
			delete(s.installed, k)
			return nil
		}
		if err != nil {
			s.failed.Add(1)
			return err
		}
	}
	if _, ok := s.installed[k]; !ok {
		s.created.Add(1)
	}
	s.installed[k] = struct{}{}
	return nil
}

func (s *Sink) del(ctx context.Context, x *Expectation) error {
	_, err := execute(ctx, s.c, netlink.Message{
		Header: netlink.Header{Type: msgType(expDelete), Flags: netlink.Request | netlink.Acknowledge},
		Data:   deleteMessage(x.Tuple, x.Zone),
	})
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// retryLoop retries waiting expectations until ctx ends.
func (s *Sink) retryLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		for k, w := range s.pending {
			if time.Now().After(w.deadline) {
				delete(s.pending, k)
				s.expired.Add(1)
				s.log.Warn("statesync expectations: master connection never arrived", "expectation", w.x.String())
				continue
			}
			delete(s.pending, k)
			if err := s.install(ctx, k, &w.x, w.deadline); err != nil && ctx.Err() == nil {
				s.log.Warn("statesync expectations: install failed", "expectation", w.x.String(), "err", err)
			}
		}
		s.mu.Unlock()
	}
}

// Replace applies snapshot, then removes every expectation the snapshot
// does not hold, except those of the unit's own connections.
func (s *Sink) Replace(ctx context.Context, snapshot []channel.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	applyErr := s.apply(ctx, snapshot)
	want := make(map[string]struct{}, len(snapshot))
	for _, r := range snapshot {
		if r.Op == channel.Upsert {
			want[string(r.Key)] = struct{}{}
		}
	}
	for k := range s.pending {
		if _, ok := want[k]; !ok {
			delete(s.pending, k)
		}
	}
	xs, err := dumpExpectations(ctx, s.c, func(err error) {
		s.log.Warn("statesync expectations: unreadable kernel entry skipped", "err", err)
	})
	if err != nil {
		return errors.Join(applyErr, fmt.Errorf("expectation replace: %w", err))
	}
	var errs []error
	for i := range xs {
		x := &xs[i]
		k := string(AppendKey(nil, x))
		if _, ok := want[k]; ok || (s.cfg.IsLocal != nil && s.cfg.IsLocal(x.Master.Src)) {
			continue
		}
		if err := s.del(ctx, x); err != nil {
			errs = append(errs, fmt.Errorf("remove stale %s: %w", x, err))
			continue
		}
		delete(s.installed, k)
		s.removed.Add(1)
	}
	for k := range s.installed {
		if _, ok := want[k]; !ok {
			delete(s.installed, k)
		}
	}
	return errors.Join(applyErr, channel.JoinErrors("expectation replace", errs))
}
