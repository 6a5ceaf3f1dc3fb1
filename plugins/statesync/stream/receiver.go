package stream

import (
	"maps"
	"slices"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// ackEvery is how many data datagrams the standby takes in before it acknowledges
// without waiting for Config.AckDelay.
const ackEvery = 16

// receiver is the standby side of the stream.
type receiver struct {
	gen      uint64 // generation received; 0: none
	next     uint64 // next data sequence number expected: all before it arrived
	highest  uint64
	ooo      map[uint64]*frame.Data // arrived out of order
	gaps     []frame.Range          // open loss ranges, for the counters
	ackDue   time.Time
	sinceAck int
	reported uint64 // Applied last sent: installer progress beyond it is reported promptly
	request  bool   // ask for a bulk sync
}

// abandon forgets the received stream (the active restarted, went away, or the role
// changed); ranges still missing are lost for good.
func (r *receiver) abandon(st *Stats) {
	st.Unrecoverable += uint64(len(r.gaps))
	*r = receiver{}
}

// onData takes in a data datagram: in order it goes to the installer, out of order it
// waits for the gap before it to be filled.
func (e *Endpoint) onData(d *frame.Data, now time.Time) {
	r := &e.rx
	if e.role != RoleStandby || d.Gen < r.gen {
		e.st.Ignored++
		return
	}
	if d.Gen > r.gen {
		// A new generation: everything before it is obsolete.
		e.rx.abandon(&e.st)
		*r = receiver{gen: d.Gen, next: d.Gen, highest: d.Gen - 1, ooo: map[uint64]*frame.Data{}}
	}
	ackNow := false
	switch {
	case d.Seq < r.next || r.ooo[d.Seq] != nil:
		e.st.Duplicates++
		ackNow = true // the active missed an acknowledgement
	case len(r.ooo) >= 2*e.cfg.Window:
		e.st.Ignored++
		return
	default:
		if d.Seq > r.highest+1 {
			r.gaps = append(r.gaps, frame.Range{First: r.highest + 1, Last: d.Seq - 1})
			e.st.LostRanges++
			ackNow = true
		}
		r.highest = max(r.highest, d.Seq)
		if d.Seq != r.next {
			r.ooo[d.Seq] = d
			break
		}
		e.deliver(d)
		r.next++
		for {
			n := r.ooo[r.next]
			if n == nil {
				break
			}
			delete(r.ooo, r.next)
			e.deliver(n)
			r.next++
		}
		for len(r.gaps) > 0 && r.gaps[0].Last < r.next {
			r.gaps = r.gaps[1:]
			e.st.RecoveredRanges++
		}
	}
	r.sinceAck++
	if ackNow || r.sinceAck >= ackEvery {
		e.sendControl(e.peer.session, now)
	} else if r.ackDue.IsZero() {
		r.ackDue = now.Add(e.cfg.AckDelay)
	}
}

// installed schedules an acknowledgement when the installer progressed beyond what the
// active was told: a full window on the active waits for it.
func (r *receiver) installed(e *Endpoint, now time.Time) {
	if r.gen != 0 && e.app.gen == r.gen && e.app.seq > r.reported && r.ackDue.IsZero() {
		r.ackDue = now.Add(e.cfg.AckDelay)
	}
}

// fill puts the acknowledgement state into a control message.
func (r *receiver) fill(c *frame.Control, e *Endpoint) {
	c.BulkRequest = r.request
	if r.gen == 0 {
		return
	}
	c.Gen, c.Ack, c.Highest = r.gen, r.next-1, r.highest
	c.Applied = r.gen - 1
	if e.app.gen == r.gen {
		c.Applied = e.app.seq
	}
	r.reported = c.Applied
	for s := r.next; s <= r.highest && len(c.Missing) < frame.MaxRanges; s++ {
		if r.ooo[s] != nil {
			continue
		}
		first := s
		for s+1 <= r.highest && r.ooo[s+1] == nil {
			s++
		}
		c.Missing = append(c.Missing, frame.Range{First: first, Last: s})
	}
}

// salvage hands what arrived out of order to the installer, skipping the gaps (Confirm at
// takeover: the active that would fill them is gone). The gaps count as lost.
func (r *receiver) salvage(e *Endpoint, now time.Time) {
	if len(r.ooo) == 0 {
		return
	}
	for _, s := range slices.Sorted(maps.Keys(r.ooo)) {
		if s > r.next {
			e.st.Unrecoverable++
			e.event(now, EventLoss, SeverityError, "state sync: takeover with records missing",
				"first", r.next, "last", s-1)
		}
		e.deliver(r.ooo[s])
		r.next = s + 1
	}
	clear(r.ooo)
	r.gaps = nil
}
