package conntrack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// DefaultRefresh is the default refresh period of a Source.
const DefaultRefresh = 30 * time.Second

// MarginFor is the timeout margin a Sink needs for a Source that
// refreshes every period: two periods and a second of rounding (see
// docs/statesync-conntrack.md, "Timeouts").
func MarginFor(period time.Duration) time.Duration { return 2*period + time.Second }

// SinkConfig configures a Sink.
type SinkConfig struct {
	// NetNS is a file descriptor of the network namespace whose table the
	// sink writes; 0 is the caller's own.
	NetNS int
	// IsLocal reports whether an address belongs to this unit: Replace
	// never removes connections to or from the unit itself. Required.
	IsLocal func(netip.Addr) bool
	// TimeoutMargin is added to every carried timeout; it must be at
	// least MarginFor(the Source's refresh period). Default
	// MarginFor(DefaultRefresh).
	TimeoutMargin time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Sink installs conntrack records into the kernel table of the standby
// (channel.Sink). It is safe for concurrent use.
type Sink struct {
	cfg    SinkConfig
	filter Filter
	log    *slog.Logger

	mu sync.Mutex
	nl *nlConn
	// installed holds a hash of the key of every entry the sink created
	// and has not deleted: it chooses update before create, and counts.
	installed map[uint64]struct{}
	seed      maphash.Seed

	stats sinkCounters
}

// SinkStats are the sink's counters since it was created.
type SinkStats struct {
	Entries                   int
	Created, Updated, Deleted uint64
	Failed, Malformed         uint64
	HelperDropped, Replaces   uint64
	RemovedByReplace, Batches uint64
}

type sinkCounters struct {
	created, updated, deleted, failed, malformed, helperDropped, replaces, removed, batches atomic.Uint64
}

// NewSink opens a ctnetlink socket in cfg.NetNS.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.IsLocal == nil {
		return nil, errors.New("conntrack sink: IsLocal is required")
	}
	if cfg.TimeoutMargin < 0 {
		return nil, fmt.Errorf("conntrack sink: TimeoutMargin %s is negative", cfg.TimeoutMargin)
	}
	if cfg.TimeoutMargin == 0 {
		cfg.TimeoutMargin = MarginFor(DefaultRefresh)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	nl, err := dialNetlink(unix.NETLINK_NETFILTER, cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("conntrack sink: %w", err)
	}
	// Room for the answers of a whole batch, errors included.
	if err := nl.setBuffers(8<<20, 4<<20); err != nil {
		nl.Close()
		return nil, fmt.Errorf("conntrack sink: %w", err)
	}
	return &Sink{cfg: cfg, filter: Filter{IsLocal: cfg.IsLocal}, log: cfg.Logger, nl: nl,
		installed: map[uint64]struct{}{}, seed: maphash.MakeSeed()}, nil
}

// Close releases the netlink socket.
func (s *Sink) Close() error { return s.nl.Close() }

// Name is the channel name, "conntrack".
func (s *Sink) Name() string { return ChannelName }

// Count is how many entries the sink installed and has not removed.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.installed)
}

// Stats returns the sink's counters.
func (s *Sink) Stats() SinkStats {
	return SinkStats{
		Entries: s.Count(), Created: s.stats.created.Load(), Updated: s.stats.updated.Load(),
		Deleted: s.stats.deleted.Load(), Failed: s.stats.failed.Load(), Malformed: s.stats.malformed.Load(),
		HelperDropped: s.stats.helperDropped.Load(), Replaces: s.stats.replaces.Load(),
		RemovedByReplace: s.stats.removed.Load(), Batches: s.stats.batches.Load(),
	}
}

// Apply installs records in order: an Upsert creates the entry or updates
// it if it exists, a Delete removes it (a missing entry is no error).
// Records with the same key supersede each other, so only the last one of
// each key is applied. An error names every record that failed; the
// others are applied.
func (s *Sink) Apply(ctx context.Context, records []channel.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.apply(ctx, records)
	return err
}

// Replace makes the kernel's synced entries exactly snapshot: it applies
// the snapshot, then removes every entry of a synced protocol that is not
// in it, except connections to or from this unit.
func (s *Sink) Replace(ctx context.Context, snapshot []channel.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.replaces.Add(1)
	failed, applyErr := s.apply(ctx, snapshot)
	want := make(map[string]struct{}, len(snapshot))
	for _, r := range snapshot {
		if r.Op == channel.Upsert {
			want[string(r.Key)] = struct{}{}
		}
	}
	var stale []sinkOp
	var key []byte
	err := s.nl.dump(ctx, ctMsgType(ctMsgGet), unix.AF_UNSPEC, func(p []byte) error {
		if len(p) < nfgenHeaderLen {
			return nil
		}
		f, err := parseFlow(p[0], p[nfgenHeaderLen:])
		if err != nil {
			s.log.Warn("statesync conntrack: unreadable kernel entry skipped", "err", err)
			return nil
		}
		if !Supported(f.Orig.Proto) || s.filter.Local(&f) {
			return nil
		}
		key = AppendKey(key[:0], &f)
		if _, ok := want[string(key)]; !ok {
			stale = append(stale, sinkOp{kind: opDelete, flow: f, idx: -1})
		}
		return nil
	})
	if err != nil {
		return errors.Join(applyErr, fmt.Errorf("conntrack replace: read table: %w", err))
	}
	results := s.exec(ctx, stale)
	var errs []error
	for i, e := range results {
		if e != nil && !errors.Is(e, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove stale %s: %w", &stale[i].flow, e))
		}
	}
	s.stats.removed.Add(uint64(len(stale) - len(errs)))
	s.installed = make(map[uint64]struct{}, len(want))
	for k := range want {
		if _, bad := failed[k]; !bad {
			s.installed[maphash.String(s.seed, k)] = struct{}{}
		}
	}
	return errors.Join(applyErr, channel.JoinErrors("conntrack replace", errs))
}

type opKind uint8

const (
	opCreate opKind = iota
	opCreateNoHelper
	opUpdate
	opDelete
)

// sinkOp is one ctnetlink request for record idx.
type sinkOp struct {
	kind opKind
	idx  int
	key  string
	flow Flow
}

// apply runs records and returns the keys that failed.
func (s *Sink) apply(ctx context.Context, records []channel.Record) (map[string]struct{}, error) {
	failed := map[string]struct{}{}
	var errs []error
	// The last record of each key wins.
	ops := make([]sinkOp, 0, len(records))
	for i, r := range channel.Latest(records) {
		k := string(r.Key)
		op, err := s.opFor(i, k, r)
		if err != nil {
			s.stats.malformed.Add(1)
			failed[k] = struct{}{}
			errs = append(errs, fmt.Errorf("record %d: %w", i, err))
			continue
		}
		ops = append(ops, op)
	}
	for round := 0; len(ops) > 0; round++ {
		results := s.exec(ctx, ops)
		var next []sinkOp
		for i, op := range ops {
			err := results[i]
			h := maphash.String(s.seed, op.key)
			retry := func(k opKind) { op.kind = k; next = append(next, op) }
			switch {
			case err == nil && op.kind == opDelete:
				s.stats.deleted.Add(1)
				delete(s.installed, h)
			case err == nil:
				if op.kind == opUpdate {
					s.stats.updated.Add(1)
				} else {
					s.stats.created.Add(1)
				}
				s.installed[h] = struct{}{}
			case round > 3:
				// a create/update ping-pong: the entry keeps changing under us
			case op.kind == opDelete && errors.Is(err, unix.ENOENT):
				delete(s.installed, h)
				continue
			case op.kind == opCreate && errors.Is(err, unix.EEXIST):
				retry(opUpdate)
				continue
			case op.kind == opUpdate && errors.Is(err, unix.ENOENT):
				retry(opCreate)
				continue
			case op.kind == opCreate && errors.Is(err, unix.EOPNOTSUPP) && op.flow.Helper != "":
				// The standby's kernel lacks the helper: the session
				// matters more than its helper.
				s.stats.helperDropped.Add(1)
				retry(opCreateNoHelper)
				continue
			case op.kind == opUpdate && errors.Is(err, unix.EBUSY):
				// The existing entry cannot take the new status (e.g. the
				// standby created it from its own traffic): replace it.
				del := op
				del.kind = opDelete
				next = append(next, del)
				retry(opCreate)
				continue
			}
			if err != nil {
				s.stats.failed.Add(1)
				failed[op.key] = struct{}{}
				errs = append(errs, fmt.Errorf("record %d (%s): %w", op.idx, &op.flow, err))
			}
		}
		ops = next
	}
	return failed, channel.JoinErrors("conntrack apply", errs)
}

// opFor decodes record r into its first request.
func (s *Sink) opFor(i int, key string, r channel.Record) (sinkOp, error) {
	switch r.Op {
	case channel.Upsert:
		f, err := Decode(r.Key, r.Value)
		if err != nil {
			return sinkOp{}, err
		}
		kind := opCreate
		if _, ok := s.installed[maphash.String(s.seed, key)]; ok {
			kind = opUpdate
		}
		return sinkOp{kind: kind, idx: i, key: key, flow: f}, nil
	case channel.Delete:
		orig, zone, _, err := DecodeKey(r.Key)
		if err != nil {
			return sinkOp{}, err
		}
		return sinkOp{kind: opDelete, idx: i, key: key, flow: Flow{Orig: orig, Zone: zone}}, nil
	}
	return sinkOp{}, fmt.Errorf("%w: op %d is neither upsert nor delete", ErrCodec, r.Op)
}

// batchLimit bounds the requests sent in one sendmsg, so that the
// kernel's answers to all of them fit the receive buffer.
const batchLimit = 256

// exec sends ops to the kernel in batches and returns each op's result.
// Ops on the same key go to separate batches, in order.
func (s *Sink) exec(ctx context.Context, ops []sinkOp) []error {
	results := make([]error, len(ops))
	var buf []byte
	seqs := make([]uint32, 0, batchLimit)
	inBatch := map[string]struct{}{}
	start := 0
	flush := func(end int) {
		if start == end {
			return
		}
		err := s.sendBatch(ctx, buf, seqs, results[start:end])
		if err != nil {
			for i := start; i < end; i++ {
				if results[i] == nil {
					results[i] = err
				}
			}
		}
		buf, seqs, start = buf[:0], seqs[:0], end
		clear(inBatch)
	}
	timeoutOf := func(f *Flow) uint32 {
		t := uint64(f.Timeout) + uint64(s.cfg.TimeoutMargin/time.Second)
		return uint32(min(t, 1<<31-1))
	}
	for i := range ops {
		op := &ops[i]
		if _, dup := inBatch[op.key]; dup || len(seqs) == batchLimit {
			flush(i)
		}
		inBatch[op.key] = struct{}{}
		seq := s.nl.nextSeq()
		seqs = append(seqs, seq)
		fam := family(op.flow.Orig)
		var off int
		e := attrEncoder{}
		switch op.kind {
		case opCreate, opCreateNoHelper:
			buf, off = appendHeader(buf, ctMsgType(ctMsgNew), unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq, fam)
			e.b = buf
			appendCreate(&e, &op.flow, timeoutOf(&op.flow), op.kind == opCreate)
		case opUpdate:
			buf, off = appendHeader(buf, ctMsgType(ctMsgNew), unix.NLM_F_REQUEST, seq, fam)
			e.b = buf
			appendUpdate(&e, &op.flow, timeoutOf(&op.flow))
		case opDelete:
			buf, off = appendHeader(buf, ctMsgType(ctMsgDelete), unix.NLM_F_REQUEST, seq, fam)
			e.b = buf
			appendDelete(&e, op.flow.Orig, op.flow.Zone)
		}
		buf = e.b
		finishMessage(buf, off)
		if i == len(ops)-1 {
			flush(len(ops))
		}
	}
	return results
}

// sendBatch sends the messages in buf (sequence numbers seqs) with an
// acknowledgement requested on the last one only: the kernel answers
// failures, and the final ack says every message was processed.
func (s *Sink) sendBatch(ctx context.Context, buf []byte, seqs []uint32, results []error) error {
	s.stats.batches.Add(1)
	// Set NLM_F_ACK on the last message: find it by walking the batch.
	lastOff := 0
	for off := 0; off < len(buf); off += nlaAlign(int(binary.NativeEndian.Uint32(buf[off:]))) {
		lastOff = off
	}
	flags := binary.NativeEndian.Uint16(buf[lastOff+6:])
	binary.NativeEndian.PutUint16(buf[lastOff+6:], flags|unix.NLM_F_ACK)
	if err := s.nl.send(ctx, buf); err != nil {
		return err
	}
	first, last := seqs[0], seqs[len(seqs)-1]
	for {
		b, err := s.nl.recv(ctx)
		if err != nil {
			return fmt.Errorf("conntrack sink: reading answers: %w", err)
		}
		done := false
		_ = eachMessage(b, func(h nlHeader, p []byte) error {
			if h.Type != unix.NLMSG_ERROR || h.Seq < first || h.Seq > last {
				return nil
			}
			results[h.Seq-first] = errnoOf(p)
			if h.Seq == last {
				done = true
			}
			return nil
		})
		if done {
			return nil
		}
	}
}
