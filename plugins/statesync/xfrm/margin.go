package xfrm

import (
	"math"
	"time"
)

// Margin rule defaults (see MarginFor and docs/statesync-channels.md).
const (
	// MinMargin is the smallest output sequence number margin: 2^16.
	MinMargin = 1 << 16
	// DefaultPacketRate is the packet rate one SA is assumed never to
	// exceed on the active: 1,000,000 packets/s, above what software ESP
	// reaches on the units this runs on (about 1.5 Gbit/s of 200-byte
	// packets per SA).
	DefaultPacketRate = 1_000_000
	// DefaultLag is the stream's delivery delay allowed for.
	DefaultLag = 500 * time.Millisecond
)

// DefaultOSeqMargin is MarginFor(DefaultPacketRate, DefaultRefresh,
// DefaultLag): 2,500,000.
var DefaultOSeqMargin = MarginFor(DefaultPacketRate, DefaultRefresh, DefaultLag)

// MarginFor is the output sequence number margin the Sink must add for a
// Source that re-sends moving SAs every refresh, an SA that sends at most
// pps packets per second, and a stream that delivers within lag:
//
//	margin = max(MinMargin, pps × (2 × refresh + lag))
//
// The standby's copy is at most one refresh period plus the delivery
// delay old when the active dies, or two periods if the last re-send was
// lost with the active; in that time the active sent at most
// pps × (2 × refresh + lag) packets, so the first packet the new active
// sends has a sequence number above every one the peer has seen.
func MarginFor(pps uint64, refresh, lag time.Duration) uint64 {
	m := math.Ceil(float64(pps) * (2*refresh + lag).Seconds())
	if m >= math.MaxUint64 {
		return math.MaxUint64
	}
	return max(uint64(m), MinMargin)
}

// WithMargin returns a copy of s whose output sequence number is m
// higher: a legacy (32-bit) counter stops at 2^32-1, where the kernel
// refuses to send and the SA must be rekeyed, rather than wrap; an
// extended (ESN) counter is 64 bits. An inbound SA (Dir SADirIn) is
// returned unchanged: the kernel refuses an output counter on it, and
// its input counters are never raised (that would reject the peer's
// packets).
func WithMargin(s SA, m uint64) SA {
	if s.Replay != nil {
		r := *s.Replay
		s.Replay = &r
	}
	if s.ESN != nil {
		r := *s.ESN
		r.Bitmap = append([]uint32(nil), r.Bitmap...)
		s.ESN = &r
	}
	if s.Dir == SADirIn {
		return s
	}
	switch {
	case s.ESN != nil:
		o := uint64(s.ESN.OSeqHi)<<32 | uint64(s.ESN.OSeq)
		if o > math.MaxUint64-m {
			o = math.MaxUint64
		} else {
			o += m
		}
		s.ESN.OSeqHi, s.ESN.OSeq = uint32(o>>32), uint32(o)
	case s.Replay != nil:
		s.Replay.OSeq = uint32(min(uint64(s.Replay.OSeq)+m, math.MaxUint32))
	}
	return s
}
