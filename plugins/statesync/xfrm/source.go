package xfrm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/nlsock"
)

// ChannelName is the channel's name, the tandem-statesync category.
const ChannelName = "ipsec"

// Defaults of the zero SourceConfig fields.
const (
	DefaultRefresh    = time.Second
	DefaultReadBuffer = 4 << 20
	// aeventMinInterval bounds the re-reads replay events trigger.
	aeventMinInterval = 100 * time.Millisecond
)

// SourceConfig configures a Source.
type SourceConfig struct {
	// NetNS is a file descriptor of the network namespace to read; 0 is
	// the caller's own.
	NetNS int
	// Refresh is the period of the re-read that re-sends every SA whose
	// anti-replay counters or current lifetime moved (the kernel sends no
	// event for that unless asked, see AEvents), and heals the standby.
	// The Sink's OSeqMargin must be at least MarginFor(rate, Refresh,
	// lag). Default DefaultRefresh.
	Refresh time.Duration
	// AEvents also subscribes to the kernel's replay events
	// (XFRM_MSG_NEWAE), each of which triggers an early re-read. The
	// kernel sends them per SA every net.core.xfrm_aevent_rseqth packets
	// (default 2!) and every xfrm_aevent_etime (default 1 s) while anyone
	// listens, so enable it only after raising xfrm_aevent_rseqth (it
	// applies to SAs created afterwards). Off by default.
	AEvents bool
	// ReadBuffer is the event socket's receive buffer. Default
	// DefaultReadBuffer.
	ReadBuffer int
	// Logger defaults to slog.Default(). Keys are never logged.
	Logger *slog.Logger
}

// Source produces the IPsec records of the active unit (channel.Source).
// Its methods are safe for concurrent use.
type Source struct {
	cfg SourceConfig
	log *slog.Logger

	mu   sync.Mutex
	sent map[string]string // key -> value the standby holds

	events, upserts, deletes, overruns, scans, larval, unreadable, aevents atomic.Uint64
}

// SourceStats are a Source's counters.
type SourceStats struct {
	// Entries counts SAs and policies.
	Entries                            int
	Events, Upserts, Deletes, Overruns uint64
	Scans, AEvents                     uint64
	// Larval counts SAs skipped because they have no algorithm yet (an
	// ACQUIRE or ALLOCSPI placeholder waiting for the IKE daemon).
	Larval, Unreadable uint64
}

// NewSource checks cfg and returns a Source; sockets are opened by
// Snapshot and Watch.
func NewSource(cfg SourceConfig) (*Source, error) {
	if cfg.Refresh < 0 || cfg.ReadBuffer < 0 {
		return nil, fmt.Errorf("ipsec source: Refresh %s and ReadBuffer %d must not be negative", cfg.Refresh, cfg.ReadBuffer)
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

// Name is "ipsec".
func (s *Source) Name() string { return ChannelName }

// Stats returns the counters.
func (s *Source) Stats() SourceStats {
	s.mu.Lock()
	n := len(s.sent)
	s.mu.Unlock()
	return SourceStats{Entries: n, Events: s.events.Load(), Upserts: s.upserts.Load(), Deletes: s.deletes.Load(),
		Overruns: s.overruns.Load(), Scans: s.scans.Load(), AEvents: s.aevents.Load(), Larval: s.larval.Load(),
		Unreadable: s.unreadable.Load()}
}

func (s *Source) bad(err error) {
	s.unreadable.Add(1)
	s.log.Warn("statesync ipsec: unreadable kernel entry skipped", "err", err)
}

// syncedSA reports whether sa is synced: a complete ESP, AH or IPComp SA.
func (s *Source) syncedSA(sa *SA) bool {
	if sa.Proto != ProtoESP && sa.Proto != ProtoAH && sa.Proto != ProtoComp {
		return false
	}
	if sa.SPI == 0 || sa.Crypt == nil && sa.Auth == nil && sa.AEAD == nil && sa.Comp == nil {
		s.larval.Add(1)
		return false
	}
	return true
}

// read dumps SAs and policies and returns their records.
func (s *Source) read(ctx context.Context) ([]channel.Record, error) {
	c, err := dial(s.cfg.NetNS)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sas, err := dumpSAs(ctx, c, s.bad)
	if err != nil {
		return nil, err
	}
	pols, err := dumpPolicies(ctx, c, s.bad)
	if err != nil {
		return nil, err
	}
	out := make([]channel.Record, 0, len(sas)+len(pols))
	for i := range sas {
		if s.syncedSA(&sas[i]) {
			out = append(out, SARecord(&sas[i]))
		}
	}
	// The kernel lists policies newest first; equal-priority policies
	// match in insertion order, so records go oldest first.
	for i := len(pols) - 1; i >= 0; i-- {
		if pols[i].Dir <= DirFwd {
			out = append(out, PolicyRecord(&pols[i]))
		}
	}
	return out, nil
}

// Snapshot dumps the SAs and policies and returns them all (bulk sync,
// SYNC-7).
func (s *Source) Snapshot(ctx context.Context) ([]channel.Record, error) {
	recs, err := s.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("ipsec snapshot: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = make(map[string]string, len(recs))
	for _, r := range recs {
		s.sent[string(r.Key)] = string(r.Value)
	}
	return recs, nil
}

// observe emits r if the standby does not hold exactly it (s.mu held).
func (s *Source) observe(r channel.Record, emit func(channel.Record)) {
	if v, ok := s.sent[string(r.Key)]; ok && v == string(r.Value) {
		return
	}
	s.sent[string(r.Key)] = string(r.Value)
	s.upserts.Add(1)
	emit(r)
}

func (s *Source) gone(k string, emit func(channel.Record)) {
	if _, ok := s.sent[k]; !ok {
		return
	}
	delete(s.sent, k)
	s.deletes.Add(1)
	emit(channel.Record{Op: channel.Delete, Key: []byte(k)})
}

// Watch follows SA and policy events and re-reads everything every
// Refresh, emitting records until ctx ends (it then returns nil) or the
// event socket fails. An overrun is reported through lost.
func (s *Source) Watch(ctx context.Context, emit func(channel.Record), lost func(reason string)) error {
	groups := []uint32{groupSA, groupPolicy, groupExpire}
	if s.cfg.AEvents {
		groups = append(groups, groupAEvents)
	}
	c, err := dial(s.cfg.NetNS, groups...)
	if err != nil {
		return fmt.Errorf("ipsec watch: %w", err)
	}
	if err := c.SetReadBuffer(s.cfg.ReadBuffer); err != nil {
		c.Close()
		return fmt.Errorf("ipsec watch: receive buffer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := nlsock.Receive(ctx, c)
	tick := time.NewTicker(s.cfg.Refresh)
	defer tick.Stop()
	var early <-chan time.Time // a pending re-read asked for by events
	var lastScan time.Time
	scan := func() {
		lastScan = time.Now()
		recs, err := s.read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("statesync ipsec: re-read failed", "err", err)
			}
			return
		}
		s.scans.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		seen := make(map[string]bool, len(recs))
		for _, r := range recs {
			seen[string(r.Key)] = true
			s.observe(r, emit)
		}
		for k := range s.sent {
			if !seen[k] {
				s.gone(k, emit)
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			scan()
		case <-early:
			early = nil
			scan()
		case b := <-events:
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(b.Err, unix.ENOBUFS):
				s.overruns.Add(1)
				s.log.Warn("statesync ipsec: event socket overrun, changes lost")
				lost("ipsec event socket overrun (ENOBUFS)")
				continue
			case b.Err != nil:
				return fmt.Errorf("ipsec watch: %w", b.Err)
			}
			rescan := false
			s.mu.Lock()
			for _, m := range b.Msgs {
				rescan = s.event(m, emit) || rescan
			}
			s.mu.Unlock()
			if rescan && early == nil {
				early = time.After(max(0, aeventMinInterval-time.Since(lastScan)))
			}
		}
	}
}

// event handles one event message (s.mu held) and reports whether it
// asks for a re-read.
func (s *Source) event(m netlink.Message, emit func(channel.Record)) bool {
	s.events.Add(1)
	switch m.Header.Type {
	case msgNewSA, msgUpdSA:
		sa, err := parseSA(m.Data)
		if err != nil {
			s.bad(err)
			return true
		}
		if s.syncedSA(&sa) {
			s.observe(SARecord(&sa), emit)
		}
	case msgDelSA:
		sa, err := parseSAID(msgDelSA, m.Data)
		if err != nil {
			s.bad(err)
			return true
		}
		s.gone(string(AppendSAKey(nil, &sa)), emit)
	case msgExpire:
		if len(m.Data) > usersaInfoLen && m.Data[usersaInfoLen] == 0 {
			return false // soft expiry: the IKE daemon rekeys
		}
		sa, err := parseSAID(msgExpire, m.Data)
		if err != nil {
			s.bad(err)
			return true
		}
		s.gone(string(AppendSAKey(nil, &sa)), emit)
	case msgNewPolicy, msgUpdPolicy:
		p, err := parsePolicy(msgNewPolicy, m.Data)
		if err != nil {
			s.bad(err)
			return true
		}
		if p.Dir <= DirFwd {
			s.observe(PolicyRecord(&p), emit)
		}
	case msgDelPolicy, msgPolExpire:
		if m.Header.Type == msgPolExpire && len(m.Data) > userpolicyLen && m.Data[userpolicyLen] == 0 {
			return false
		}
		p, err := parsePolicy(m.Header.Type, m.Data)
		if err != nil {
			s.bad(err)
			return true
		}
		s.gone(string(AppendPolicyKey(nil, &p)), emit)
	case msgNewAE:
		s.aevents.Add(1)
		return true
	case msgFlushSA, msgFlushPolicy:
		return true
	}
	return false
}
