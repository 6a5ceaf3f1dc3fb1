package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// Retransmission timing.
const (
	minRTO    = 50 * time.Millisecond
	maxRTO    = time.Second
	scanEvery = 5 * time.Millisecond
)

// outDatagram is a data datagram sent and not yet acknowledged: the retransmit buffer.
type outDatagram struct {
	seq       uint64
	payload   []byte
	firstSent time.Time
	lastSent  time.Time
	oldest    time.Time // when its oldest record was queued
	sends     int
	sacked    bool   // the standby has it, out of order
	resend    bool   // marked for retransmission
	chans     uint32 // bit i: carries records of channel i
}

// bulkState is the bulk sync of the current generation.
type bulkState struct {
	running bool
	started time.Time
	records uint64
	pending int                 // snapshots not yet in the queue
	touched map[string]struct{} // keys of increments queued before their snapshot arrived
	endSeq  uint64              // data sequence number that carried BULK_END
	cancel  context.CancelFunc
}

// sender is the active side of the stream.
type sender struct {
	gen            uint64 // current generation; 0: not sending
	next           uint64 // next data sequence number
	cumAck         uint64
	peerApplied    uint64
	queue          queue
	unacked        []*outDatagram // data sequence numbers cumAck+1 .. next-1
	resends        int            // unacked entries marked resend
	bulk           bulkState
	srtt, rttvar   time.Duration
	nextScan       time.Time
	throttledUntil time.Time
	throttled      bool
	more           bool // pump stopped after a burst: call it again soon
	retryAt        time.Time
	pendingReason  string
	builder        frame.DataBuilder
	buf            []byte
}

// snapResult is one channel's snapshot, from the snapshot goroutine.
type snapResult struct {
	gen  uint64
	ch   int
	recs []channel.Record
	err  error
}

// stop ends the current generation: nothing more is sent until startGeneration.
func (t *sender) stop() {
	if t.bulk.cancel != nil {
		t.bulk.cancel()
	}
	if t.next == 0 {
		t.next = 1
	}
	t.gen, t.unacked, t.resends, t.bulk = 0, nil, 0, bulkState{}
	t.queue.reset()
	t.pendingReason = ""
}

// resync starts a new generation because of reason (a loss, an overrun, a request).
func (e *Endpoint) resync(reason string, now time.Time) {
	e.st.Resyncs++
	for _, c := range e.chans {
		c.st.Resyncs++
	}
	e.event(now, EventResync, SeverityWarning, "state sync resync: full bulk sync", "reason", reason)
	e.tx.stop()
	e.tx.pendingReason = reason
	if e.canSend() {
		e.startGeneration(now, reason)
	}
}

// startGeneration begins a bulk sync: BULK_BEGIN, every channel's snapshot, BULK_END, in
// the same sequence space as the increments that go on meanwhile (SYNC-7).
func (e *Endpoint) startGeneration(now time.Time, reason string) {
	e.tx.stop()
	if reason == "" {
		reason = "standby joined"
	}
	t := &e.tx
	t.gen = t.next
	t.cumAck, t.peerApplied = t.gen-1, t.gen-1
	t.queue.pushMarker(qBulkBegin, now)
	ctx, cancel := context.WithCancel(e.runCtx)
	t.bulk = bulkState{running: true, started: now, touched: map[string]struct{}{}, cancel: cancel}
	e.st.BulksSent++
	var srcs []int
	for i, c := range e.chans {
		if c.src != nil {
			srcs = append(srcs, i)
		}
	}
	t.bulk.pending = len(srcs)
	if len(srcs) == 0 {
		t.queue.pushMarker(qBulkEnd, now)
	}
	e.event(now, EventBulkSendBegin, SeverityInfo, "bulk sync to the standby begins", "generation", t.gen, "reason", reason)
	gen := t.gen
	go func() {
		for _, i := range srcs {
			recs, err := e.chans[i].src.Snapshot(ctx)
			select {
			case e.snaps <- snapResult{gen: gen, ch: i, recs: recs, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

// onSnapshot queues a channel's snapshot behind BULK_BEGIN. A key with an increment
// queued since BULK_BEGIN keeps the increment: it is at least as new as the snapshot.
func (e *Endpoint) onSnapshot(r snapResult, now time.Time) {
	t := &e.tx
	if r.gen != t.gen || !t.bulk.running || t.bulk.pending == 0 {
		return
	}
	c := e.chans[r.ch]
	if r.err != nil {
		e.event(now, EventError, SeverityError, "bulk sync: snapshot failed, retrying", "channel", c.name, "err", r.err, "retry", e.cfg.RetryDelay)
		t.stop()
		t.retryAt = now.Add(e.cfg.RetryDelay)
		t.pendingReason = "retry after a failed snapshot"
		return
	}
	// Snapshot records are appended without coalescing (their keys are unique; an
	// increment of the same key queued later simply follows its snapshot record).
	for _, rec := range r.recs {
		if !e.acceptable(c, rec) {
			continue
		}
		if len(t.bulk.touched) > 0 {
			if _, ok := t.bulk.touched[indexKey(uint8(r.ch), rec.Key)]; ok {
				continue
			}
		}
		t.queue.append(uint8(r.ch), rec, now, true)
		t.bulk.records++
	}
	t.bulk.pending--
	if t.bulk.pending == 0 {
		t.queue.pushMarker(qBulkEnd, now)
		t.bulk.touched = nil
	}
}

// acceptable checks a record's sizes; a refused record is counted and logged.
func (e *Endpoint) acceptable(c *chanState, r channel.Record) bool {
	if len(r.Key) <= frame.MaxKeyLen && len(r.Value) <= frame.MaxValueLen && (r.Op == channel.Upsert || r.Op == channel.Delete) {
		return true
	}
	c.st.Refused++
	e.log.Warn("state sync: record refused", "channel", c.name, "op", r.Op, "key-bytes", len(r.Key), "value-bytes", len(r.Value),
		"max-key", frame.MaxKeyLen, "max-value", frame.MaxValueLen)
	return false
}

// drainInbox takes in the records and lost reports of the sources' watches.
func (e *Endpoint) drainInbox(now time.Time) {
	recs, lost := e.in.take()
	t := &e.tx
	for _, r := range recs {
		c := e.chans[r.ch]
		c.st.Emitted++
		if !e.acceptable(c, r.rec) {
			continue
		}
		if t.gen == 0 {
			c.st.Discarded++ // no standby: the next bulk sync carries it
			continue
		}
		if t.bulk.touched != nil {
			t.bulk.touched[indexKey(r.ch, r.rec.Key)] = struct{}{}
		}
		if t.queue.push(r.ch, r.rec, now, false) {
			c.st.Coalesced++
		}
	}
	for _, l := range lost {
		e.st.Overruns++
		name := "stream"
		if l.ch >= 0 {
			e.chans[l.ch].st.Overruns++
			name = e.chans[l.ch].name
		}
		e.event(now, EventOverrun, SeverityWarning, "state sync: changes missed", "channel", name, "reason", l.reason)
	}
	if len(lost) > 0 && e.role == RoleActive {
		e.resync(fmt.Sprintf("%d overrun report(s), first: %s", len(lost), lost[0].reason), now)
		return
	}
	if n := t.queue.records - t.queue.bulk; n > e.cfg.MaxQueue {
		e.st.Overruns++
		e.event(now, EventOverrun, SeverityWarning, "state sync: send queue overflow", "records", n, "max", e.cfg.MaxQueue)
		e.resync("send queue overflow", now)
	}
}

// windowOpen reports whether another new data datagram may be sent.
func (e *Endpoint) windowOpen() bool {
	return e.tx.next-1-e.tx.peerApplied < uint64(e.cfg.Window)
}

// pumpBurst is the most datagrams pump sends at once, so that acknowledgements are taken
// in between.
const pumpBurst = 32

// pump sends what may be sent now: retransmissions first, then new datagrams, within the
// window and the throttle. It sets tx.more when it stopped after pumpBurst datagrams.
func (e *Endpoint) pump(now time.Time) {
	t := &e.tx
	t.more = false
	if t.gen == 0 || !e.canSend() {
		return
	}
	for n := 0; ; n++ {
		if n == pumpBurst {
			t.more = true
			return
		}
		if w := e.bucket.wait(now); w > 0 {
			t.throttledUntil = now.Add(w)
			if !t.throttled {
				t.throttled = true
				e.st.ThrottleWaits++
			}
			return
		}
		t.throttled, t.throttledUntil = false, time.Time{}
		if t.resends > 0 {
			for _, d := range t.unacked {
				if d.resend {
					d.resend = false
					t.resends--
					e.st.Retransmits++
					e.sendData(d, now)
					break
				}
			}
			continue
		}
		if t.queue.len() == 0 || !e.windowOpen() {
			return
		}
		if t.queue.bytes < e.cfg.MaxDatagram-frame.Overhead-16 && now.Before(t.queue.front().at.Add(e.cfg.BatchDelay)) {
			return
		}
		d := e.build(now)
		t.unacked = append(t.unacked, d)
		e.sendData(d, now)
	}
}

// build takes records from the queue into the next data datagram.
func (e *Endpoint) build(now time.Time) *outDatagram {
	t := &e.tx
	d := &outDatagram{seq: t.next, oldest: t.queue.front().at}
	t.next++
	b := &t.builder
	b.Reset(t.buf, e.cfg.MaxDatagram-frame.Overhead, d.seq, t.gen)
fill:
	for t.queue.len() > 0 {
		q := t.queue.front()
		switch q.kind {
		case qBulkBegin:
			if !b.AddBulkBegin(e.table) {
				break fill
			}
		case qBulkEnd:
			if !b.AddBulkEnd() {
				break fill
			}
			t.bulk.endSeq = d.seq
		case qRecord:
			c := e.chans[q.ch]
			switch {
			case q.off == 0 && b.AddRecord(q.ch, q.op, q.key, q.value):
				c.st.BytesSent += uint64(frame.RecordSize(q.op, q.key, q.value))
			case q.off == 0 && q.op == channel.Upsert:
				if b.Items() > 0 && frame.RecordSize(q.op, q.key, q.value) <= e.cfg.MaxDatagram-frame.Overhead-16 {
					break fill // fits whole in the next datagram
				}
				n := b.AddFirst(q.ch, q.key, q.value)
				if n == 0 {
					break fill
				}
				q.off = n
				t.queue.started()
				d.chans |= 1 << q.ch
				c.st.SentSeq = d.seq
				continue
			case q.off > 0:
				n := b.AddMore(q.ch, q.value[q.off:])
				if n == 0 {
					break fill
				}
				q.off += n
				d.chans |= 1 << q.ch
				c.st.SentSeq = d.seq
				if q.off < len(q.value) {
					continue
				}
				c.st.BytesSent += uint64(frame.RecordSize(q.op, q.key, q.value))
			default:
				break fill
			}
			c.st.Sent++
			d.chans |= 1 << q.ch
			c.st.SentSeq = d.seq
		}
		t.queue.pop()
	}
	t.buf = b.Bytes()
	d.payload = append([]byte(nil), t.buf...)
	e.st.SentSeq = d.seq
	return d
}

// sendData sends (or resends) a data datagram.
func (e *Endpoint) sendData(d *outDatagram, now time.Time) {
	n := e.send(frame.TypeData, e.peer.session, d.payload, now)
	e.bucket.take(n, now)
	if d.sends == 0 {
		d.firstSent = now
	}
	d.sends++
	d.lastSent = now
	if e.tx.nextScan.IsZero() || e.tx.nextScan.Before(now) {
		e.tx.nextScan = now.Add(scanEvery)
	}
}

// onAck takes in the standby's acknowledgements of the current generation.
func (e *Endpoint) onAck(c *frame.Control, now time.Time) {
	t := &e.tx
	top := t.next - 1
	if c.Applied > t.peerApplied && c.Applied <= top {
		t.peerApplied = c.Applied
	}
	if c.Ack > t.cumAck && c.Ack <= top {
		n := int(c.Ack - t.cumAck)
		for _, d := range t.unacked[:n] {
			lag := now.Sub(d.oldest)
			e.st.Lag = lag
			e.st.LagMax = max(e.st.LagMax, lag)
			for i, ch := range e.chans {
				if d.chans&(1<<i) != 0 {
					ch.st.Lag, ch.st.AckedSeq = lag, d.seq
				}
			}
			if d.sends == 1 { // Karn: only unambiguous samples
				rtt := now.Sub(d.firstSent)
				if t.srtt == 0 {
					t.srtt, t.rttvar = rtt, rtt/2
				} else {
					t.rttvar += (abs(t.srtt-rtt) - t.rttvar) / 4
					t.srtt += (rtt - t.srtt) / 8
				}
			}
			if d.resend {
				t.resends--
			}
		}
		clear(t.unacked[:n])
		t.unacked = t.unacked[n:]
		t.cumAck = c.Ack
		if t.bulk.endSeq != 0 && t.cumAck >= t.bulk.endSeq {
			e.st.LastBulkDuration = now.Sub(t.bulk.started)
			e.st.LastBulkRecords = t.bulk.records
			e.event(now, EventBulkSendEnd, SeverityInfo, "bulk sync to the standby complete",
				"generation", t.gen, "records", t.bulk.records, "duration", e.st.LastBulkDuration)
			t.bulk.endSeq, t.bulk.running = 0, false
		}
	}
	// Selective acknowledgement: what is below Highest and not in a missing range
	// arrived; what is in one is retransmitted, at most once per round trip.
	again := max(t.srtt+2*e.cfg.AckDelay, 2*time.Millisecond)
	m := c.Missing
	for _, d := range t.unacked {
		if d.seq > c.Highest {
			break
		}
		for len(m) > 0 && m[0].Last < d.seq {
			m = m[1:]
		}
		missing := len(m) > 0 && m[0].First <= d.seq
		if !missing {
			if d.resend {
				d.resend = false
				t.resends--
			}
			d.sacked = true
			continue
		}
		if !d.resend && now.Sub(d.lastSent) >= again {
			d.resend = true
			t.resends++
		}
	}
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// rto is the retransmission timeout of a datagram sent n times (RFC 6298 style, with the
// standby's acknowledgement delay added).
func (e *Endpoint) rto(n int) time.Duration {
	r := max(minRTO, e.tx.srtt+4*e.tx.rttvar+2*e.cfg.AckDelay)
	for ; n > 1 && r < maxRTO; n-- {
		r *= 2
	}
	return min(r, maxRTO)
}

// scanUnacked retransmits datagrams whose acknowledgement is overdue (the tail of a burst,
// which no later datagram reveals as missing) and gives up on those older than
// Config.GiveUp: their records are lost, so a resync follows.
func (e *Endpoint) scanUnacked(now time.Time) {
	t := &e.tx
	t.nextScan = now.Add(scanEvery)
	var lostFirst, lostLast uint64
	var lostChans uint32
	for _, d := range t.unacked {
		if d.sacked || d.sends == 0 {
			continue
		}
		if now.Sub(d.firstSent) >= e.cfg.GiveUp {
			if lostFirst == 0 {
				lostFirst = d.seq
			}
			lostLast = d.seq
			lostChans |= d.chans
			continue
		}
		if !d.resend && now.Sub(d.lastSent) >= e.rto(d.sends) {
			d.resend = true
			t.resends++
		}
	}
	if lostFirst == 0 {
		return
	}
	e.st.Unrecoverable++
	for i, c := range e.chans {
		if lostChans&(1<<i) != 0 {
			c.st.Losses++
		}
	}
	e.event(now, EventLoss, SeverityError, "state sync: datagrams lost beyond recovery",
		"first", lostFirst, "last", lostLast, "after", e.cfg.GiveUp)
	e.resync(fmt.Sprintf("data sequence %d..%d not acknowledged within %v", lostFirst, lostLast, e.cfg.GiveUp), now)
}
