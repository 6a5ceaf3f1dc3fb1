package telemetry

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketEvents = []byte("events") // 8-byte big-endian seq -> JSON Event
	bucketMeta   = []byte("meta")
	keyLastSeq   = []byte("last-seq") // 8-byte big-endian, never decreases
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("telemetry: event log is closed")

// EventLog is the persisted, bounded HA event log (OBS-2). Events live in
// their own bbolt file; only the newest size events are kept, and they are
// mirrored into the state tree under /system/events. An EventLog is safe
// for concurrent use.
type EventLog struct {
	db   *bolt.DB
	size int
	tree *Tree

	mu     sync.Mutex // serialises Append, subscriber changes and Close
	closed bool
	subs   map[*subscriber]struct{}
}

// OpenEventLog opens (creating if needed) the event log in the bbolt file
// at path, keeping the newest size events (size >= 1). If the file holds
// more, the oldest are deleted. With a non-nil tree the kept events are
// mirrored into it.
func OpenEventLog(path string, size int, tree *Tree) (*EventLog, error) {
	if size < 1 {
		return nil, fmt.Errorf("event log %s: size %d must be at least 1", path, size)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("event log %s: %w", path, err)
	}
	l := &EventLog{db: db, size: size, tree: tree, subs: map[*subscriber]struct{}{}}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketEvents)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		_, err = trim(b, lastSeq(tx), size)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("event log %s: %w", path, err)
	}
	if tree != nil {
		for _, e := range l.List(0, 0) {
			if err := l.mirror(e); err != nil {
				_ = db.Close()
				return nil, fmt.Errorf("event log %s: %w", path, err)
			}
		}
	}
	return l, nil
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func lastSeq(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyLastSeq); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// trim deletes the events that do not fit a log of size ending at last and
// returns their sequence numbers.
func trim(b *bolt.Bucket, last uint64, size int) ([]uint64, error) {
	if last <= uint64(size) {
		return nil, nil
	}
	cutoff := last - uint64(size) // delete seq <= cutoff
	var gone []uint64
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= cutoff; k, _ = c.First() {
		gone = append(gone, binary.BigEndian.Uint64(k))
		if err := c.Delete(); err != nil {
			return nil, err
		}
	}
	return gone, nil
}

// Append assigns e the next sequence number (and the current time when
// e.Time is zero), persists it, deletes the events that fall out of the
// bound, mirrors the change into the state tree and hands e to every
// subscriber without waiting (subscribers share the event's Attrs map and
// must not modify it). The stored event is returned; if only the
// tree mirror failed it is returned together with the error.
func (l *EventLog) Append(e Event) (Event, error) {
	if err := e.check(); err != nil {
		return Event{}, err
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	e.Attrs = maps.Clone(e.Attrs)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Event{}, ErrClosed
	}
	var gone []uint64
	err := l.db.Update(func(tx *bolt.Tx) error {
		e.Seq = lastSeq(tx) + 1
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketEvents)
		if err := b.Put(seqKey(e.Seq), data); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyLastSeq, seqKey(e.Seq)); err != nil {
			return err
		}
		gone, err = trim(b, e.Seq, l.size)
		return err
	})
	if err != nil {
		return Event{}, fmt.Errorf("event log: append %s event: %w", e.Type, err)
	}
	var mirrorErr error
	if l.tree != nil {
		mirrorErr = l.mirror(e)
		for _, s := range gone {
			mirrorErr = errors.Join(mirrorErr, l.tree.Delete(eventPath(s, "")))
		}
		if mirrorErr != nil {
			mirrorErr = fmt.Errorf("event log: event %d persisted but not mirrored into the state tree: %w", e.Seq, mirrorErr)
		}
	}
	l.publish(e)
	return e, mirrorErr
}

// mirror writes e into the state tree.
func (l *EventLog) mirror(e Event) error {
	for _, u := range []struct {
		leaf string
		v    any
	}{
		{"sequence", e.Seq},
		{"state/sequence", e.Seq},
		{"state/time", e.Time},
		{"state/type", e.Type},
		{"state/severity", e.Severity},
		{"state/message", e.Message},
	} {
		if err := l.tree.Update(eventPath(e.Seq, u.leaf), u.v); err != nil {
			return err
		}
	}
	return nil
}

// List returns up to limit events (all when limit <= 0) with a sequence
// number greater than afterSeq, oldest first.
func (l *EventLog) List(afterSeq uint64, limit int) []Event {
	var out []Event
	if afterSeq == ^uint64(0) {
		return nil
	}
	_ = l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(seqKey(afterSeq + 1)); k != nil; k, v = c.Next() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				continue
			}
			out = append(out, e)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out
}

// Close ends every subscription and closes the file. The events stay in
// the state tree. Close is idempotent.
func (l *EventLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	for s := range l.subs {
		l.drop(s)
	}
	return l.db.Close()
}
