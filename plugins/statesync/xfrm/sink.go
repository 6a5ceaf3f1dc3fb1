package xfrm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// SinkConfig configures a Sink.
type SinkConfig struct {
	// NetNS is a file descriptor of the network namespace to write; 0 is
	// the caller's own.
	NetNS int
	// OSeqMargin is added to the output sequence number of every SA the
	// sink installs (see MarginFor). Default DefaultOSeqMargin.
	OSeqMargin uint64
	// Logger defaults to slog.Default(). Keys are never logged.
	Logger *slog.Logger
}

// Sink installs IPsec records on the standby (channel.Sink): the
// standby's SAD and SPD become a copy of the active's. It is safe for
// concurrent use.
type Sink struct {
	cfg SinkConfig
	log *slog.Logger

	mu sync.Mutex
	c  *netlink.Conn
	// installed maps the key of every SA and policy the sink installed
	// to its static part (an SA's value without its counters), which
	// chooses between a counter update and a re-creation.
	installed map[string]string

	saCreated, saUpdated, saRecreated, policies, deleted, failed, malformed, removed atomic.Uint64
}

// SinkStats are a Sink's counters.
type SinkStats struct {
	Entries int
	// SACreated counts SAs created; SAUpdated counter updates of an
	// existing SA (XFRM_MSG_NEWAE); SARecreated SAs deleted and created
	// again because more than their counters changed.
	SACreated, SAUpdated, SARecreated uint64
	Policies, Deleted                 uint64
	Failed, Malformed                 uint64
	RemovedByReplace                  uint64
}

// NewSink opens an xfrm netlink socket in cfg.NetNS.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.OSeqMargin == 0 {
		cfg.OSeqMargin = DefaultOSeqMargin
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c, err := dial(cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("ipsec sink: %w", err)
	}
	return &Sink{cfg: cfg, log: cfg.Logger, c: c, installed: map[string]string{}}, nil
}

// Close releases the socket.
func (s *Sink) Close() error { return s.c.Close() }

// Name is "ipsec".
func (s *Sink) Name() string { return ChannelName }

// Count is the number of SAs and policies the sink installed and has not
// removed.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.installed)
}

// Stats returns the counters.
func (s *Sink) Stats() SinkStats {
	return SinkStats{Entries: s.Count(), SACreated: s.saCreated.Load(), SAUpdated: s.saUpdated.Load(),
		SARecreated: s.saRecreated.Load(), Policies: s.policies.Load(), Deleted: s.deleted.Load(), Failed: s.failed.Load(),
		Malformed: s.malformed.Load(), RemovedByReplace: s.removed.Load()}
}

// static is an SA's value without what traffic changes.
func static(sa SA) string {
	sa.Replay, sa.ESN, sa.Current = nil, nil, Current{}
	return string(AppendSAValue(nil, &sa))
}

// Apply installs records in order; the last record of a key wins. An SA
// is created with its output sequence number raised by OSeqMargin; an SA
// the sink installed whose keys and parameters did not change gets only
// its counters updated. An error names every record that failed, by
// identity (never by key material).
func (s *Sink) Apply(ctx context.Context, records []channel.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(ctx, records)
}

func (s *Sink) apply(ctx context.Context, records []channel.Record) error {
	var errs []error
	for i, r := range channel.Latest(records) {
		what, err := s.one(ctx, r)
		if err != nil {
			if errors.Is(err, ErrCodec) {
				s.malformed.Add(1)
			} else {
				s.failed.Add(1)
			}
			errs = append(errs, fmt.Errorf("record %d (%s): %w", i, what, err))
		}
	}
	return channel.JoinErrors("ipsec apply", errs)
}

// one applies one record and names what it is about.
func (s *Sink) one(ctx context.Context, r channel.Record) (string, error) {
	kind, err := Kind(r.Key)
	if err != nil {
		return "?", err
	}
	k := string(r.Key)
	switch {
	case kind == KindSA && r.Op == channel.Upsert:
		sa, err := DecodeSA(r.Key, r.Value)
		if err != nil {
			return "SA", err
		}
		return sa.String(), s.upsertSA(ctx, k, &sa)
	case kind == KindSA && r.Op == channel.Delete:
		sa, err := DecodeSAKey(r.Key)
		if err != nil {
			return "SA", err
		}
		if err := s.request(ctx, msgDelSA, 0, saIDMessage(&sa)); err != nil && !errors.Is(err, unix.ESRCH) {
			return sa.String(), err
		}
		s.forget(k)
		return sa.String(), nil
	case kind == KindPolicy && r.Op == channel.Upsert:
		p, err := DecodePolicy(r.Key, r.Value)
		if err != nil {
			return "policy", err
		}
		if err := s.request(ctx, msgUpdPolicy, netlink.Create|netlink.Replace, updPolicyMessage(&p)); err != nil {
			return p.String(), err
		}
		s.policies.Add(1)
		s.installed[k] = ""
		return p.String(), nil
	case kind == KindPolicy && r.Op == channel.Delete:
		p, err := DecodePolicyKey(r.Key)
		if err != nil {
			return "policy", err
		}
		if err := s.request(ctx, msgDelPolicy, 0, delPolicyMessage(&p)); err != nil && !errors.Is(err, unix.ENOENT) {
			return p.String(), err
		}
		s.forget(k)
		return p.String(), nil
	}
	return "?", fmt.Errorf("%w: op %d is neither upsert nor delete", ErrCodec, r.Op)
}

func (s *Sink) forget(k string) {
	if _, ok := s.installed[k]; ok {
		delete(s.installed, k)
		s.deleted.Add(1)
	}
}

// upsertSA installs sa with the margin: a counter update if the sink
// installed the same SA, else a creation (replacing whatever holds the
// identity).
func (s *Sink) upsertSA(ctx context.Context, k string, sa *SA) error {
	m := WithMargin(*sa, s.cfg.OSeqMargin)
	st := static(*sa)
	if prev, ok := s.installed[k]; ok && prev == st {
		err := s.request(ctx, msgNewAE, netlink.Replace, newAEMessage(&m))
		if err == nil {
			s.saUpdated.Add(1)
			return nil
		}
		if !errors.Is(err, unix.ESRCH) {
			return err
		}
		delete(s.installed, k) // gone behind our back: create it again
	}
	err := s.request(ctx, msgNewSA, netlink.Create|netlink.Excl, newSAMessage(&m))
	if errors.Is(err, unix.EEXIST) {
		if err := s.request(ctx, msgDelSA, 0, saIDMessage(sa)); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("replacing the existing SA: %w", err)
		}
		s.saRecreated.Add(1)
		err = s.request(ctx, msgNewSA, netlink.Create|netlink.Excl, newSAMessage(&m))
	}
	if err != nil {
		delete(s.installed, k)
		return err
	}
	s.saCreated.Add(1)
	s.installed[k] = st
	return nil
}

func (s *Sink) request(ctx context.Context, typ netlink.HeaderType, flags netlink.HeaderFlags, data []byte) error {
	_, err := execute(ctx, s.c, netlink.Message{
		Header: netlink.Header{Type: typ, Flags: netlink.Request | netlink.Acknowledge | flags},
		Data:   data,
	})
	return err
}

// Replace applies snapshot, then removes every SA and policy the
// snapshot does not hold: the standby mirrors the active.
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
	bad := func(err error) { s.log.Warn("statesync ipsec: unreadable kernel entry skipped", "err", err) }
	sas, err := dumpSAs(ctx, s.c, bad)
	if err != nil {
		return errors.Join(applyErr, fmt.Errorf("ipsec replace: %w", err))
	}
	pols, err := dumpPolicies(ctx, s.c, bad)
	if err != nil {
		return errors.Join(applyErr, fmt.Errorf("ipsec replace: %w", err))
	}
	var errs []error
	for i := range sas {
		sa := &sas[i]
		k := string(AppendSAKey(nil, sa))
		if _, ok := want[k]; ok {
			continue
		}
		if err := s.request(ctx, msgDelSA, 0, saIDMessage(sa)); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove stale %s: %w", sa, err))
			continue
		}
		delete(s.installed, k)
		s.removed.Add(1)
	}
	for i := range pols {
		p := &pols[i]
		k := string(AppendPolicyKey(nil, p))
		if _, ok := want[k]; ok || p.Dir > DirFwd {
			continue
		}
		if err := s.request(ctx, msgDelPolicy, 0, delPolicyMessage(p)); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove stale %s: %w", p, err))
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
	return errors.Join(applyErr, channel.JoinErrors("ipsec replace", errs))
}
