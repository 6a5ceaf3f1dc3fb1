package stream

import (
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// qkind is what a queue entry is.
type qkind uint8

const (
	qRecord qkind = iota
	qBulkBegin
	qBulkEnd
)

// qentry is a record (or marker) waiting to be put into a datagram.
type qentry struct {
	kind       qkind
	ch         uint8
	op         channel.Op
	key, value []byte
	at         time.Time // when the first record of this entry was queued
	bulk       bool      // from a snapshot (not an increment)
	off        int       // value bytes already sent: a fragmented value in progress
}

// queue is the FIFO of records waiting for the window. A record whose key already waits
// and has not started to be sent replaces the waiting one in place (coalescing): per key
// the order is kept, and only the newest state of the entry travels.
type queue struct {
	items   []qentry
	head    int
	base    uint64            // absolute position of items[0]
	index   map[string]uint64 // channel id + key -> absolute position of its waiting record
	records int               // record entries waiting
	bulk    int               // of which from a snapshot
	bytes   int               // encoded size of the waiting records, roughly
}

func indexKey(ch uint8, key []byte) string {
	b := make([]byte, 0, 1+len(key))
	return string(append(append(b, ch), key...))
}

// len is the number of entries waiting.
func (q *queue) len() int { return len(q.items) - q.head }

// reset empties the queue.
func (q *queue) reset() { *q = queue{index: map[string]uint64{}} }

// pushMarker queues a marker.
func (q *queue) pushMarker(k qkind, at time.Time) {
	q.items = append(q.items, qentry{kind: k, at: at})
	q.bytes++
}

// push queues a record and reports whether it replaced a waiting one.
func (q *queue) push(ch uint8, r channel.Record, at time.Time, bulk bool) (coalesced bool) {
	if q.index == nil {
		q.index = map[string]uint64{}
	}
	k := indexKey(ch, r.Key)
	if pos, ok := q.index[k]; ok {
		e := &q.items[pos-q.base]
		q.bytes += frame.RecordSize(r.Op, r.Key, r.Value) - frame.RecordSize(e.op, e.key, e.value)
		e.op, e.value = r.Op, r.Value
		if e.bulk && !bulk {
			e.bulk = false
			q.bulk--
		}
		return true
	}
	q.index[k] = q.base + uint64(len(q.items))
	q.items = append(q.items, qentry{kind: qRecord, ch: ch, op: r.Op, key: r.Key, value: r.Value, at: at, bulk: bulk})
	q.records++
	if bulk {
		q.bulk++
	}
	q.bytes += frame.RecordSize(r.Op, r.Key, r.Value)
	return false
}

// append queues a record without looking for a waiting one of its key, and without
// making it a target for later ones: for snapshots, whose keys are unique.
func (q *queue) append(ch uint8, r channel.Record, at time.Time, bulk bool) {
	q.items = append(q.items, qentry{kind: qRecord, ch: ch, op: r.Op, key: r.Key, value: r.Value, at: at, bulk: bulk})
	q.records++
	if bulk {
		q.bulk++
	}
	q.bytes += frame.RecordSize(r.Op, r.Key, r.Value)
}

// front returns the oldest entry; the queue must not be empty.
func (q *queue) front() *qentry { return &q.items[q.head] }

// started marks the front record as partly sent: later records of its key no longer
// replace it.
func (q *queue) started() {
	e := q.front()
	k := indexKey(e.ch, e.key)
	if pos, ok := q.index[k]; ok && pos == q.base+uint64(q.head) {
		delete(q.index, k)
	}
}

// pop removes the front entry.
func (q *queue) pop() {
	e := q.front()
	if e.kind == qRecord {
		q.started()
		q.records--
		if e.bulk {
			q.bulk--
		}
		q.bytes -= frame.RecordSize(e.op, e.key, e.value)
	} else {
		q.bytes--
	}
	*e = qentry{}
	q.head++
	if q.head >= 1024 && 2*q.head >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.base += uint64(q.head)
		q.head = 0
	}
}
