package stream

import "time"

// bucket is the token bucket of the throttle (SYNC-4). A send may take the balance below
// zero by one datagram; nothing more is sent until it is back above zero, so over any
// interval the bytes sent stay within rate × interval + burst + one datagram.
type bucket struct {
	rate   float64 // bytes per second; 0: unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate int64, maxDatagram int) bucket {
	// A burst of 10 ms worth of bytes, at least two datagrams: smooth, yet not one
	// datagram at a time.
	burst := max(float64(rate)/100, float64(2*maxDatagram))
	return bucket{rate: float64(rate), burst: burst, tokens: burst}
}

// refill adds the tokens earned since the last call.
func (b *bucket) refill(now time.Time) {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
}

// wait returns how long to wait before sending is allowed; 0 now.
func (b *bucket) wait(now time.Time) time.Duration {
	if b.rate == 0 {
		return 0
	}
	b.refill(now)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// take debits n bytes sent.
func (b *bucket) take(n int, now time.Time) {
	if b.rate == 0 {
		return
	}
	b.refill(now)
	b.tokens -= float64(n)
}
