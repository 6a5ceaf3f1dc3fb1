// Package transfer is the lab's long TCP transfer: a sender that streams a
// known byte pattern (byte i is i mod 251) and a sink that checks every
// byte and records the longest silence, so that a test or the demo can
// tell whether a session survived a takeover intact.
package transfer

import (
	"context"
	"net"
	"sync"
	"time"
)

// Pattern is the value of byte i of the stream.
func Pattern(i int64) byte { return byte(i % 251) }

// Sink receives one transfer.
type Sink struct {
	mu       sync.Mutex
	received int64
	corrupt  bool
	last     time.Time
	longest  time.Duration
	err      error
}

// Result is what a Sink has seen so far.
type Result struct {
	// Received counts the bytes received.
	Received int64
	// Last is when the last bytes arrived.
	Last time.Time
	// Longest is the longest silence between two reads.
	Longest time.Duration
	// Corrupt says a byte differed from the pattern.
	Corrupt bool
	// Err is how the connection ended (nil while it is open; io.EOF for a
	// clean close; a reset otherwise).
	Err error
}

// Serve reads c until it ends, checking every byte.
func (s *Sink) Serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		now := time.Now()
		s.mu.Lock()
		for i := 0; i < n; i++ {
			if buf[i] != Pattern(s.received+int64(i)) {
				s.corrupt = true
			}
		}
		s.received += int64(n)
		if n > 0 {
			if !s.last.IsZero() && now.Sub(s.last) > s.longest {
				s.longest = now.Sub(s.last)
			}
			s.last = now
		}
		if err != nil {
			s.err = err
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// Result returns what the sink has seen so far.
func (s *Sink) Result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Result{Received: s.received, Last: s.last, Longest: s.longest, Corrupt: s.corrupt, Err: s.err}
}

// Send streams the pattern in chunks of size bytes, one every interval,
// until ctx ends (then it returns nil), the connection fails (a write
// blocked for 5 s counts) or is closed; it returns the bytes written.
func Send(ctx context.Context, c net.Conn, size int, interval time.Duration) (int64, error) {
	buf := make([]byte, size)
	var off int64
	for ctx.Err() == nil {
		for i := range buf {
			buf[i] = Pattern(off + int64(i))
		}
		if err := c.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return off, err
		}
		n, err := c.Write(buf)
		off += int64(n)
		if err != nil {
			return off, err
		}
		time.Sleep(interval)
	}
	return off, nil
}
