package probe

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Defaults of the YANG leaves /monitoring/config/probe-*.
const (
	DefaultInterval      = 5 * time.Second
	DefaultTimeout       = 1000 * time.Millisecond
	DefaultLossThreshold = 3
)

// Target is one logical probe: one monitored interface and address family
// with logical-probe on.
type Target struct {
	// Port is the monitored port (X0, X1, ...); results are keyed by it.
	Port string
	// Source is this unit's own monitoring address on the port (MON-2).
	Source netip.Addr
	// Destination is the probe address of the port and family.
	Destination netip.Addr
}

// Config tunes a Prober. Zero values take the YANG defaults.
type Config struct {
	// Interval is the time between two probes of a target.
	Interval time.Duration
	// Timeout is how long a probe waits for its echo reply. It is cut
	// to Interval when longer.
	Timeout time.Duration
	// LossThreshold is the number of consecutive unanswered probes after
	// which a target counts as unreachable.
	LossThreshold int
	// Logger receives the prober's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Prober probes its targets every interval and reports which ports reach
// their probe address.
type Prober struct {
	cfg     Config
	log     *slog.Logger
	id      int // ICMP echo identifier of this prober
	results chan map[string]bool
	wake    chan struct{}
	seq     int // last echo sequence number; owned by Run

	mu      sync.Mutex
	targets []Target
}

// New returns a prober with no targets; call Run to start it.
func New(cfg Config) *Prober {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.Timeout = min(cfg.Timeout, cfg.Interval)
	if cfg.LossThreshold <= 0 {
		cfg.LossThreshold = DefaultLossThreshold
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Prober{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "ha-probe"),
		id:      rand.IntN(0xffff) + 1,
		results: make(chan map[string]bool, 1),
		wake:    make(chan struct{}, 1),
	}
}

// SetTargets replaces the set of targets. It is safe to call at any time,
// before or during Run; a changed set is probed at once. Invalid targets
// (no port, a source and destination of different families) are dropped.
func (p *Prober) SetTargets(ts []Target) {
	valid := make([]Target, 0, len(ts))
	for _, t := range ts {
		t.Source, t.Destination = t.Source.Unmap(), t.Destination.Unmap()
		if t.Port == "" || !t.Source.IsValid() || !t.Destination.IsValid() || t.Source.Is4() != t.Destination.Is4() {
			p.log.Warn("probe target ignored", "port", t.Port, "source", t.Source, "destination", t.Destination)
			continue
		}
		if !slices.Contains(valid, t) {
			valid = append(valid, t)
		}
	}
	p.mu.Lock()
	changed := !sameTargets(p.targets, valid)
	p.targets = valid
	p.mu.Unlock()
	if changed {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func sameTargets(a, b []Target) bool {
	if len(a) != len(b) {
		return false
	}
	for _, t := range a {
		if !slices.Contains(b, t) {
			return false
		}
	}
	return true
}

func (p *Prober) snapshot() []Target {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.targets)
}

// Results delivers, for every port with a target, whether it reaches its
// probe address: true while any of its targets answered one of the last
// LossThreshold probes. A map is sent once when the first round is done
// and then only when some port changed (or a port came or went). The
// channel holds one map: a slow reader gets the latest one and misses
// none of the final state. Maps are never reused by the prober.
func (p *Prober) Results() <-chan map[string]bool { return p.results }

// publish hands m to the reader, replacing an unread older map.
func (p *Prober) publish(m map[string]bool) {
	m = maps.Clone(m)
	for {
		select {
		case p.results <- m:
			return
		default:
			select {
			case <-p.results:
			default:
			}
		}
	}
}

// Run probes the targets until ctx ends, one round every interval. Its
// sockets are opened on the calling goroutine, so they live in the
// caller's network namespace.
func (p *Prober) Run(ctx context.Context) {
	socks := newSockets(p.log, p.id)
	defer socks.closeAll()
	st := newTracker(p.cfg.LossThreshold)
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	select {
	case <-p.wake: // the first round probes the targets set so far
	default:
	}
	var last map[string]bool
	for first := true; ; first = false {
		targets := p.snapshot()
		answered := p.round(ctx, socks, targets)
		if ctx.Err() != nil {
			return
		}
		now := st.update(targets, answered)
		if first || !maps.Equal(now, last) {
			p.logChanges(last, now)
			p.publish(now)
			last = now
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-p.wake:
		}
	}
}

func (p *Prober) logChanges(before, after map[string]bool) {
	for port, ok := range after {
		if was, known := before[port]; known && was == ok {
			continue
		}
		if ok {
			p.log.Info("probe target reachable", "port", port)
		} else {
			p.log.Warn("probe target unreachable", "port", port)
		}
	}
}
