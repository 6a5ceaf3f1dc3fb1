package stream

import (
	"context"
	"strconv"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// appQueue hands in-order data datagrams from the loop to the installer goroutine.
// Guarded by Endpoint.mu.
type appQueue struct {
	items     []*frame.Data
	delivered uint64 // datagrams handed over
	applied   uint64 // datagrams installed
	gen, seq  uint64 // generation and data sequence number of the last installed
	progress  chan struct{}
	notify    chan struct{}
}

// deliver queues an in-order datagram for installation.
func (e *Endpoint) deliver(d *frame.Data) {
	e.app.items = append(e.app.items, d)
	e.app.delivered++
	select {
	case e.app.notify <- struct{}{}:
	default:
	}
}

// fragment is a value arriving in chunks.
type fragment struct {
	ch    int
	key   []byte
	value []byte
	total int
	seq   uint64
}

// installer is the state of the installer goroutine.
type installer struct {
	e       *Endpoint
	gen     uint64
	table   map[uint8]int // channel id of the generation -> local channel, -1: unknown here
	inBulk  bool
	started time.Time
	bulk    []map[string]channel.Record // per local channel: what the bulk sync installed
	pending [][]channel.Record          // per local channel: records to Apply
	frag    *fragment
	// counters since the last merge, per local channel
	received, applied, failed, replaceFailed []uint64
	unknown                                  uint64
	events                                   []Event
	complete                                 bool
	lastBulk                                 time.Duration
}

// applyLoop installs what the loop delivers, in order, through the sinks.
func (e *Endpoint) applyLoop(ctx context.Context) {
	n := len(e.chans)
	a := &installer{e: e, pending: make([][]channel.Record, n), received: make([]uint64, n),
		applied: make([]uint64, n), failed: make([]uint64, n), replaceFailed: make([]uint64, n)}
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.app.notify:
		}
		for {
			e.mu.Lock()
			batch := e.app.items
			e.app.items = nil
			e.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, d := range batch {
				a.datagram(ctx, d)
			}
			a.flush(ctx)
			last := batch[len(batch)-1]
			e.mu.Lock()
			e.app.applied += uint64(len(batch))
			e.app.gen, e.app.seq = last.Gen, last.Seq
			a.merge()
			close(e.app.progress)
			e.app.progress = make(chan struct{})
			e.mu.Unlock()
			e.wake()
		}
	}
}

// datagram installs one data datagram's items.
func (a *installer) datagram(ctx context.Context, d *frame.Data) {
	if d.Gen != a.gen {
		a.flush(ctx)
		a.gen, a.table, a.inBulk, a.bulk, a.frag = d.Gen, nil, false, nil, nil
	}
	for i := range d.Items {
		it := &d.Items[i]
		if it.Kind != frame.KindMore && a.frag != nil {
			a.dropFragment()
		}
		switch it.Kind {
		case frame.KindMarker:
			a.flush(ctx)
			if it.Marker == frame.MarkerBulkBegin {
				a.bulkBegin(it.Channels)
			} else {
				a.bulkEnd(ctx)
			}
		case frame.KindUpsert:
			a.record(it.Channel, channel.Record{Op: channel.Upsert, Key: it.Key, Value: it.Value})
		case frame.KindDelete:
			a.record(it.Channel, channel.Record{Op: channel.Delete, Key: it.Key})
		case frame.KindFirst:
			ch, ok := a.local(it.Channel)
			if !ok {
				continue
			}
			a.frag = &fragment{ch: ch, key: it.Key, total: it.Total, seq: d.Seq,
				value: append(make([]byte, 0, it.Total), it.Value...)}
		case frame.KindMore:
			f := a.frag
			ch, _ := a.local(it.Channel)
			if f == nil || f.ch != ch || d.Seq != f.seq+1 || len(f.value)+len(it.Value) > f.total {
				if f != nil {
					a.dropFragment()
				}
				if ch >= 0 {
					a.failed[ch]++ // a chunk without its start: the record is lost
				}
				continue
			}
			f.value = append(f.value, it.Value...)
			f.seq = d.Seq
			if len(f.value) == f.total {
				a.frag = nil
				a.add(f.ch, channel.Record{Op: channel.Upsert, Key: f.key, Value: f.value})
			}
		}
	}
}

// local maps a channel id of the generation to a local channel with a sink.
func (a *installer) local(id uint8) (int, bool) {
	ch, ok := a.table[id]
	if !ok || ch < 0 || a.e.chans[ch].sink == nil {
		a.unknown++
		return -1, false
	}
	return ch, true
}

func (a *installer) record(id uint8, r channel.Record) {
	if ch, ok := a.local(id); ok {
		a.add(ch, r)
	}
}

// add queues a record for Apply and, during a bulk sync, notes it for Replace.
func (a *installer) add(ch int, r channel.Record) {
	a.received[ch]++
	a.pending[ch] = append(a.pending[ch], r)
	if a.inBulk && a.bulk[ch] != nil {
		if r.Op == channel.Delete {
			delete(a.bulk[ch], string(r.Key))
		} else {
			a.bulk[ch][string(r.Key)] = r
		}
	}
}

func (a *installer) dropFragment() {
	a.failed[a.frag.ch]++
	a.frag = nil
}

// flush applies the pending records, channel by channel.
func (a *installer) flush(ctx context.Context) {
	for ch, recs := range a.pending {
		if len(recs) == 0 {
			continue
		}
		err := a.e.chans[ch].sink.Apply(ctx, recs)
		failed := countErrors(err, len(recs))
		a.failed[ch] += uint64(failed)
		a.applied[ch] += uint64(len(recs) - failed)
		if err != nil {
			a.e.log.Warn("state sync: installing records", "channel", a.e.chans[ch].name, "records", len(recs), "failed", failed, "err", err)
		}
		clear(recs)
		a.pending[ch] = recs[:0]
	}
}

// countErrors is how many records err (from Apply) says failed: one per joined error.
func countErrors(err error, max int) int {
	if err == nil {
		return 0
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return min(len(j.Unwrap()), max)
	}
	return 1
}

// bulkBegin starts a generation's bulk sync: the channel table, and empty Replace sets.
func (a *installer) bulkBegin(chs []frame.ChannelName) {
	a.table = map[uint8]int{}
	a.bulk = make([]map[string]channel.Record, len(a.e.chans))
	for _, c := range chs {
		ch, ok := a.e.byName[c.Name]
		if !ok {
			a.table[c.ID] = -1
			continue
		}
		a.table[c.ID] = ch
		a.bulk[ch] = map[string]channel.Record{}
	}
	a.inBulk, a.started = true, time.Now()
	a.events = append(a.events, Event{Time: a.started, Type: EventBulkReceiveBegin, Severity: SeverityInfo,
		Message: "bulk sync from the active begins"})
}

// bulkEnd replaces each channel's entries by what the bulk sync and the records since
// BULK_BEGIN installed: entries not in the snapshot and not changed since go away.
func (a *installer) bulkEnd(ctx context.Context) {
	if !a.inBulk {
		return
	}
	var total int
	for ch, set := range a.bulk {
		if set == nil || a.e.chans[ch].sink == nil {
			continue
		}
		recs := make([]channel.Record, 0, len(set))
		for _, r := range set {
			recs = append(recs, r)
		}
		total += len(recs)
		if err := a.e.chans[ch].sink.Replace(ctx, recs); err != nil {
			a.replaceFailed[ch]++
			a.events = append(a.events, Event{Time: time.Now(), Type: EventError, Severity: SeverityError,
				Message: "bulk sync: replacing the entries of " + a.e.chans[ch].name + " failed: " + err.Error()})
		}
	}
	a.inBulk, a.bulk, a.complete = false, nil, true
	now := time.Now()
	a.lastBulk = now.Sub(a.started)
	a.events = append(a.events, Event{Time: now, Type: EventBulkReceiveEnd, Severity: SeverityInfo,
		Message: "bulk sync from the active installed: " + strconv.Itoa(total) + " entries in " + a.lastBulk.String()})
}

// merge adds the counters to the endpoint's; Endpoint.mu is held.
func (a *installer) merge() {
	e := a.e
	for ch, c := range e.chans {
		c.st.Received += a.received[ch]
		c.st.Applied += a.applied[ch]
		c.st.ApplyErrors += a.failed[ch]
		c.st.ReplaceErrors += a.replaceFailed[ch]
		a.received[ch], a.applied[ch], a.failed[ch], a.replaceFailed[ch] = 0, 0, 0, 0
	}
	e.st.UnknownRecords += a.unknown
	a.unknown = 0
	if a.complete {
		a.complete = false
		e.st.BulksReceived++
		e.st.LastBulkReceiveDuration = a.lastBulk
		if e.role == RoleStandby {
			e.bulkComplete = true
		}
	}
	for _, ev := range a.events {
		e.event(ev.Time, ev.Type, ev.Severity, ev.Message)
	}
	a.events = nil
}
