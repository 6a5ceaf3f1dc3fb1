package neigh

import (
	"bytes"
	"context"
	"errors"
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

// SinkConfig configures a Sink.
type SinkConfig struct {
	// NetNS is a file descriptor of the network namespace to write; 0 is
	// the caller's own.
	NetNS int
	// IsLocal reports the unit's own and virtual addresses: no entry is
	// ever installed for them. Required.
	IsLocal func(netip.Addr) bool
	// Interfaces reports whether entries may be installed on an
	// interface (not on the HA links); nil allows every interface but
	// loopback.
	Interfaces func(ifname string) bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Sink installs neighbour records on the standby (channel.Sink): as
// STALE entries tagged Protocol, on the interface with the record's
// interface name. It is safe for concurrent use.
type Sink struct {
	cfg SinkConfig
	log *slog.Logger

	mu        sync.Mutex
	c         *netlink.Conn
	links     map[string]int32
	installed map[string]struct{}

	installs, deletes, failed, malformed        atomic.Uint64
	unknownIf, skippedLocal, kept, removedStale atomic.Uint64
}

// SinkStats are a Sink's counters.
type SinkStats struct {
	Entries                               int
	Installed, Deleted, Failed, Malformed uint64
	// UnknownInterface counts records for an interface this unit lacks
	// (or excluded); SkippedLocal records for its own addresses; Kept
	// records not installed because the standby holds a permanent,
	// NOARP or freshly confirmed entry of its own.
	UnknownInterface, SkippedLocal, Kept uint64
	RemovedByReplace                     uint64
}

// NewSink opens an rtnetlink socket in cfg.NetNS.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.IsLocal == nil {
		return nil, errors.New("neighbour sink: IsLocal is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c, err := dial(cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("neighbour sink: %w", err)
	}
	return &Sink{cfg: cfg, log: cfg.Logger, c: c, installed: map[string]struct{}{}}, nil
}

// Close releases the socket.
func (s *Sink) Close() error { return s.c.Close() }

// Name is "arp".
func (s *Sink) Name() string { return ChannelName }

// Count is the number of entries the sink installed and has not removed.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.installed)
}

// Stats returns the counters.
func (s *Sink) Stats() SinkStats {
	return SinkStats{Entries: s.Count(), Installed: s.installs.Load(), Deleted: s.deletes.Load(), Failed: s.failed.Load(),
		Malformed: s.malformed.Load(), UnknownInterface: s.unknownIf.Load(), SkippedLocal: s.skippedLocal.Load(),
		Kept: s.kept.Load(), RemovedByReplace: s.removedStale.Load()}
}

// Apply installs records in order; the last record of a key wins. An
// Upsert becomes a STALE entry (created, or replacing a learned one);
// records for an unknown or excluded interface or a local address are
// skipped and counted, not errors. A Delete removes the entry only if
// the sink installed it. An error names every record that failed.
func (s *Sink) Apply(ctx context.Context, records []channel.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(ctx, records)
}

type entryKey struct {
	ifindex int32
	addr    netip.Addr
}

func (s *Sink) apply(ctx context.Context, records []channel.Record) error {
	var current map[entryKey]kentry
	if s.links == nil {
		if err := s.readLinks(ctx); err != nil {
			return err
		}
	}
	reread := false
	var errs []error
	for i, r := range channel.Latest(records) {
		k := string(r.Key)
		var e Entry
		var err error
		if r.Op == channel.Upsert {
			e, err = Decode(r.Key, r.Value)
		} else if r.Op == channel.Delete {
			e, err = DecodeKey(r.Key)
		} else {
			err = fail("op %d is neither upsert nor delete", r.Op)
		}
		if err != nil {
			s.malformed.Add(1)
			errs = append(errs, fmt.Errorf("record %d: %w", i, err))
			continue
		}
		idx, ok := s.links[e.Ifname]
		if !ok && !reread {
			reread = true
			if err := s.readLinks(ctx); err != nil {
				return err
			}
			idx, ok = s.links[e.Ifname]
		}
		if r.Op == channel.Delete {
			if _, mine := s.installed[k]; !mine || !ok {
				delete(s.installed, k)
				continue
			}
			if err := s.del(ctx, idx, e.Addr); err != nil {
				s.failed.Add(1)
				errs = append(errs, fmt.Errorf("record %d (delete %s): %w", i, &e, err))
				continue
			}
			delete(s.installed, k)
			s.deletes.Add(1)
			continue
		}
		if !ok || e.Ifname == "lo" || (s.cfg.Interfaces != nil && !s.cfg.Interfaces(e.Ifname)) {
			s.unknownIf.Add(1)
			continue
		}
		if s.cfg.IsLocal(e.Addr) || e.Addr.IsMulticast() || e.Addr.IsUnspecified() || e.Addr.IsLoopback() {
			s.skippedLocal.Add(1)
			continue
		}
		if current == nil {
			if current, err = s.readNeigh(ctx); err != nil {
				return err
			}
		}
		if cur, ok := current[entryKey{idx, e.Addr}]; ok && cur.protocol != Protocol &&
			(cur.state&(nudPermanent|nudNoARP) != 0 || (cur.state&nudReachable != 0 && bytes.Equal(cur.lladdr, e.LLAddr))) {
			s.kept.Add(1)
			continue
		}
		if err := s.install(ctx, idx, &e); err != nil {
			s.failed.Add(1)
			errs = append(errs, fmt.Errorf("record %d (%s): %w", i, &e, err))
			continue
		}
		s.installed[k] = struct{}{}
		s.installs.Add(1)
	}
	return channel.JoinErrors("neighbour apply", errs)
}

// Replace applies snapshot, then removes every entry tagged Protocol
// that the snapshot does not hold. Entries the standby learned itself,
// and permanent ones, are never removed.
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
	if err := s.readLinks(ctx); err != nil {
		return errors.Join(applyErr, err)
	}
	names := make(map[int32]string, len(s.links))
	for n, i := range s.links {
		names[i] = n
	}
	cur, err := s.readNeigh(ctx)
	if err != nil {
		return errors.Join(applyErr, err)
	}
	var errs []error
	for ek, k := range cur {
		if k.protocol != Protocol || k.state&nudPermanent != 0 {
			continue
		}
		key := string(AppendKey(nil, &Entry{Ifname: names[ek.ifindex], Addr: ek.addr}))
		if _, ok := want[key]; ok && names[ek.ifindex] != "" {
			continue
		}
		if err := s.del(ctx, ek.ifindex, ek.addr); err != nil {
			errs = append(errs, fmt.Errorf("remove stale %s: %w", ek.addr, err))
			continue
		}
		delete(s.installed, key)
		s.removedStale.Add(1)
	}
	for k := range s.installed {
		if _, ok := want[k]; !ok {
			delete(s.installed, k)
		}
	}
	return errors.Join(applyErr, channel.JoinErrors("neighbour replace", errs))
}

func (s *Sink) readLinks(ctx context.Context) error {
	links, err := nlsock.LinkIndexes(ctx, s.c)
	if err != nil {
		return fmt.Errorf("neighbour sink: %w", err)
	}
	s.links = links
	return nil
}

func (s *Sink) readNeigh(ctx context.Context) (map[entryKey]kentry, error) {
	ks, err := dumpNeigh(ctx, s.c)
	if err != nil {
		return nil, fmt.Errorf("neighbour sink: %w", err)
	}
	out := make(map[entryKey]kentry, len(ks))
	for _, k := range ks {
		out[entryKey{k.ifindex, k.addr}] = k
	}
	return out, nil
}

// install creates or replaces the entry as STALE: the kernel uses it at
// once and confirms it with a unicast probe when traffic flows.
func (s *Sink) install(ctx context.Context, idx int32, e *Entry) error {
	var flags uint8
	if e.Router {
		flags = ntfRouter
	}
	_, err := nlsock.Execute(ctx, s.c, netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWNEIGH, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace},
		Data:   neighMessage(idx, nudStale, flags, e.Addr, e.LLAddr, Protocol),
	})
	return err
}

func (s *Sink) del(ctx context.Context, idx int32, a netip.Addr) error {
	_, err := nlsock.Execute(ctx, s.c, netlink.Message{
		Header: netlink.Header{Type: unix.RTM_DELNEIGH, Flags: netlink.Request | netlink.Acknowledge},
		Data:   neighMessage(idx, 0, 0, a, nil, 0),
	})
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
