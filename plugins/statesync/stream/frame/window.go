package frame

import "fmt"

// WindowSize is how many packet numbers, up to and including the highest accepted, a Window
// remembers; older ones are refused.
const WindowSize = 256

// Window is the anti-replay state of one peer session (RFC 4303 3.4.3 style): a packet
// number is accepted once, and only if it is above the window's bottom. Feed it only
// authenticated datagrams. The zero value accepts anything. Not safe for concurrent use.
type Window struct {
	top  uint64                  // highest accepted; 0 before the first
	seen [WindowSize / 64]uint64 // bit d set: top-d accepted
}

// Accept records packet number n, or refuses it with an error wrapping ErrReplay.
func (w *Window) Accept(n uint64) error {
	if n > w.top {
		w.shift(n - w.top)
		w.top = n
		w.seen[0] |= 1
		return nil
	}
	d := w.top - n
	if d >= WindowSize {
		return fmt.Errorf("%w: packet %d below the window (highest %d)", ErrReplay, n, w.top)
	}
	if w.seen[d/64]&(1<<(d%64)) != 0 {
		return fmt.Errorf("%w: packet %d seen before", ErrReplay, n)
	}
	w.seen[d/64] |= 1 << (d % 64)
	return nil
}

// shift moves the bitmap n positions towards older packet numbers.
func (w *Window) shift(n uint64) {
	if n >= WindowSize {
		w.seen = [WindowSize / 64]uint64{}
		return
	}
	words, bits := int(n/64), n%64
	for i := len(w.seen) - 1; i >= 0; i-- {
		var v uint64
		if j := i - words; j >= 0 {
			v = w.seen[j] << bits
			if bits != 0 && j > 0 {
				v |= w.seen[j-1] >> (64 - bits)
			}
		}
		w.seen[i] = v
	}
}
