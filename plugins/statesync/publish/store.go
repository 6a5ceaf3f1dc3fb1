package publish

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/wire"
)

// Store is one published channel on one unit: the entries its services
// published (on the active) or the peer sent (on the standby). It is the
// channel's channel.Source and channel.Sink at once, so that after a
// takeover the new active sends on what it received.
type Store struct {
	cfg ChannelConfig
	srv *Server

	mu       sync.Mutex
	entries  map[string]wire.Entry
	emitters map[uint64]func(channel.Record) // running Watches of an immediate channel
	nextID   uint64
	deleted  map[string]struct{} // periodic channel: deleted since the last send
	readers  map[*reader]struct{}
	flush    chan struct{}
	sent     uint64 // records emitted by Watch, for tests and status
}

func newStore(cfg ChannelConfig, srv *Server) *Store {
	return &Store{cfg: cfg, srv: srv, entries: map[string]wire.Entry{}, emitters: map[uint64]func(channel.Record){},
		deleted: map[string]struct{}{}, readers: map[*reader]struct{}{}, flush: make(chan struct{}, 1)}
}

// Name implements channel.Source and channel.Sink.
func (s *Store) Name() string { return s.cfg.Name }

// Interval is the channel's re-publication period; 0 sends every change
// at once.
func (s *Store) Interval() time.Duration { return s.cfg.Interval }

// Emitted is how many records the store's Watch has emitted.
func (s *Store) Emitted() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Count implements channel.Sink.
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Entries returns every entry, sorted by key.
func (s *Store) Entries() []wire.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedLocked()
}

func (s *Store) sortedLocked() []wire.Entry {
	out := make([]wire.Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b wire.Entry) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out
}

// Snapshot implements channel.Source: every entry as an Upsert.
func (s *Store) Snapshot(context.Context) ([]channel.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]channel.Record, 0, len(s.entries))
	for _, e := range s.sortedLocked() {
		out = append(out, channel.Record{Op: channel.Upsert, Key: []byte(e.Key), Value: encodeValue(&e)})
	}
	return out, nil
}

// Watch implements channel.Source. An immediate channel emits every
// published change as it happens; a periodic one (Interval > 0) emits,
// every Interval and on flush, the deletions since the last time and
// then every entry (SYNC-11). While a Watch runs the unit is active for
// its services. emit must not block (the stream's does not): it is
// called with the store locked, which keeps records in publication order.
func (s *Store) Watch(ctx context.Context, emit func(channel.Record), _ func(reason string)) error {
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	if s.cfg.Interval == 0 {
		s.emitters[id] = emit
	}
	s.mu.Unlock()
	s.srv.watchStarted()
	defer func() {
		s.mu.Lock()
		delete(s.emitters, id)
		s.mu.Unlock()
		s.srv.watchEnded()
	}()
	if s.cfg.Interval == 0 {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.flush:
		}
		s.resend(emit)
	}
}

// resend emits a periodic channel's deletions since the last period and
// every entry.
func (s *Store) resend(emit func(channel.Record)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.deleted))
	for k := range s.deleted {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		emit(channel.Record{Op: channel.Delete, Key: []byte(k)})
	}
	clear(s.deleted)
	for _, e := range s.sortedLocked() {
		emit(channel.Record{Op: channel.Upsert, Key: []byte(e.Key), Value: encodeValue(&e)})
	}
	s.sent += uint64(len(keys) + len(s.entries))
}

// Flush makes a periodic channel's running Watch send now.
func (s *Store) Flush() {
	select {
	case s.flush <- struct{}{}:
	default:
	}
}

// emitLocked hands a local change to the running Watches.
func (s *Store) emitLocked(r channel.Record) {
	if s.cfg.Interval > 0 {
		if r.Op == channel.Delete {
			s.deleted[string(r.Key)] = struct{}{}
		}
		return
	}
	for _, emit := range s.emitters {
		emit(r)
		s.sent++
	}
}

// errFull is a publication beyond the channel's MaxEntries.
var errFull = errors.New("channel full")

// Upsert publishes entries: they are stored, sent to the peer and shown to
// readers. now stamps them. It fails, storing nothing, when new keys
// would exceed MaxEntries.
func (s *Store) Upsert(entries []wire.Entry, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	added := 0
	for _, e := range entries {
		if _, ok := s.entries[e.Key]; !ok {
			added++
		}
	}
	if len(s.entries)+added > s.cfg.MaxEntries {
		return fmt.Errorf("%w: %d entries plus %d new, at most %d in channel %q", errFull, len(s.entries), added,
			s.cfg.MaxEntries, s.cfg.Name)
	}
	out := make([]wire.Entry, len(entries))
	for i, e := range entries {
		e.Updated = now.UnixMilli()
		s.entries[e.Key] = e
		delete(s.deleted, e.Key)
		s.emitLocked(channel.Record{Op: channel.Upsert, Key: []byte(e.Key), Value: encodeValue(&e)})
		out[i] = e
	}
	s.notifyLocked(wire.Reply{Event: wire.EventUpsert, Entries: out})
	return nil
}

// Delete removes keys; absent keys are ignored.
func (s *Store) Delete(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for _, k := range keys {
		if _, ok := s.entries[k]; ok {
			delete(s.entries, k)
			gone = append(gone, k)
			s.emitLocked(channel.Record{Op: channel.Delete, Key: []byte(k)})
		}
	}
	if len(gone) > 0 {
		s.notifyLocked(wire.Reply{Event: wire.EventDelete, Keys: gone})
	}
}

// ReplaceAll makes the channel hold exactly entries (a service's full
// re-publication): the others are deleted.
func (s *Store) ReplaceAll(entries []wire.Entry, now time.Time) error {
	if len(entries) > s.cfg.MaxEntries {
		return fmt.Errorf("%w: %d entries, at most %d in channel %q", errFull, len(entries), s.cfg.MaxEntries, s.cfg.Name)
	}
	keep := make(map[string]bool, len(entries))
	for _, e := range entries {
		keep[e.Key] = true
	}
	var gone []string
	s.mu.Lock()
	for k := range s.entries {
		if !keep[k] {
			gone = append(gone, k)
		}
	}
	s.mu.Unlock()
	// Deletions first so that the channel never holds more than MaxEntries.
	if len(gone) > 0 {
		slices.Sort(gone)
		s.Delete(gone)
	}
	if len(entries) == 0 {
		return nil
	}
	return s.Upsert(entries, now)
}

// Apply implements channel.Sink: records from the active. An error names
// the first record that could not be installed; the others are.
func (s *Store) Apply(_ context.Context, records []channel.Record) error {
	var errs []error
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range records {
		switch r.Op {
		case channel.Upsert:
			e, err := decodeValue(r.Key, r.Value)
			if err != nil {
				errs = append(errs, fmt.Errorf("channel %s: record %q: %w", s.cfg.Name, trunc(r.Key), err))
				continue
			}
			if _, ok := s.entries[e.Key]; !ok && len(s.entries) >= s.cfg.MaxEntries {
				errs = append(errs, fmt.Errorf("channel %s: record %q: %w: at most %d entries", s.cfg.Name, trunc(r.Key), errFull, s.cfg.MaxEntries))
				continue
			}
			s.entries[e.Key] = e
			s.notifyLocked(wire.Reply{Event: wire.EventUpsert, Entries: []wire.Entry{e}})
		case channel.Delete:
			if _, ok := s.entries[string(r.Key)]; ok {
				delete(s.entries, string(r.Key))
				s.notifyLocked(wire.Reply{Event: wire.EventDelete, Keys: []string{string(r.Key)}})
			}
		default:
			errs = append(errs, fmt.Errorf("channel %s: record %q: unknown operation %d", s.cfg.Name, trunc(r.Key), r.Op))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
	}
	return nil
}

// Replace implements channel.Sink: the end of a bulk sync. Readers get a
// new snapshot.
func (s *Store) Replace(_ context.Context, snapshot []channel.Record) error {
	next := make(map[string]wire.Entry, len(snapshot))
	var errs []error
	for _, r := range snapshot {
		if r.Op != channel.Upsert {
			continue
		}
		e, err := decodeValue(r.Key, r.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("channel %s: record %q: %w", s.cfg.Name, trunc(r.Key), err))
			continue
		}
		if len(next) >= s.cfg.MaxEntries {
			errs = append(errs, fmt.Errorf("channel %s: bulk sync of more than %d entries: %w", s.cfg.Name, s.cfg.MaxEntries, errFull))
			break
		}
		next[e.Key] = e
	}
	s.mu.Lock()
	s.entries = next
	clear(s.deleted)
	s.notifyLocked(wire.Reply{Event: wire.EventSnapshot, Entries: s.sortedLocked()})
	s.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
	}
	return nil
}

// subscribe registers a reader and returns the current entries, both
// under the lock so that no change falls between them.
func (s *Store) subscribe(r *reader) []wire.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readers[r] = struct{}{}
	return s.sortedLocked()
}

func (s *Store) unsubscribe(r *reader) {
	s.mu.Lock()
	delete(s.readers, r)
	s.mu.Unlock()
}

// resnapshot returns the entries and empties r's queue, for a reader that
// overran its queue.
func (s *Store) resnapshot(r *reader) []wire.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.reset()
	return s.sortedLocked()
}

func (s *Store) notifyLocked(ev wire.Reply) {
	for r := range s.readers {
		r.push(ev)
	}
}

func (s *Store) notifyAll(ev wire.Reply) {
	s.mu.Lock()
	s.notifyLocked(ev)
	s.mu.Unlock()
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
