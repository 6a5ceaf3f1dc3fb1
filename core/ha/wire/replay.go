package wire

import "fmt"

// WindowSize is the number of sequence numbers, up to and including the highest accepted, that
// a ReplayWindow remembers. Older ones are refused (ErrTooOld).
const WindowSize = 128

// ReplayWindow is the anti-replay state for one peer, like IPsec ESP's (RFC 4303 3.4.3) extended
// with the sender's epoch: within an epoch a sequence number is accepted once, if it is above the
// window's bottom; a greater epoch (the peer rebooted) starts afresh; a smaller epoch is refused.
// Use it only on authenticated messages, and call Accept only once the message is authentic.
// The zero value is an empty window that accepts anything. It is not safe for concurrent use.
type ReplayWindow struct {
	started bool
	epoch   uint32
	top     uint64    // highest sequence number accepted in epoch
	seen    [2]uint64 // bit i (seen[i/64] bit i%64) set: top-i accepted
}

// Check reports whether a message with this epoch and sequence number would be accepted,
// without recording it. The error wraps ErrReplay and one of ErrStaleEpoch, ErrTooOld and
// ErrDuplicate.
func (w *ReplayWindow) Check(epoch uint32, seq uint64) error {
	if !w.started || epoch > w.epoch {
		return nil
	}
	if epoch < w.epoch {
		return fmt.Errorf("%w: epoch %d, current %d", ErrStaleEpoch, epoch, w.epoch)
	}
	if seq > w.top {
		return nil
	}
	d := w.top - seq
	if d >= WindowSize {
		return fmt.Errorf("%w: sequence %d, highest %d, window %d", ErrTooOld, seq, w.top, WindowSize)
	}
	if w.seen[d/64]&(1<<(d%64)) != 0 {
		return fmt.Errorf("%w: epoch %d sequence %d", ErrDuplicate, epoch, seq)
	}
	return nil
}

// Accept checks like Check and, when the message is acceptable, records it.
func (w *ReplayWindow) Accept(epoch uint32, seq uint64) error {
	if err := w.Check(epoch, seq); err != nil {
		return err
	}
	if !w.started || epoch > w.epoch {
		*w = ReplayWindow{started: true, epoch: epoch, top: seq, seen: [2]uint64{1, 0}}
		return nil
	}
	if seq > w.top {
		w.shift(seq - w.top)
		w.top = seq
		w.seen[0] |= 1
		return nil
	}
	d := w.top - seq
	w.seen[d/64] |= 1 << (d % 64)
	return nil
}

// shift moves the bitmap n positions toward older sequence numbers.
func (w *ReplayWindow) shift(n uint64) {
	switch {
	case n >= WindowSize:
		w.seen = [2]uint64{}
	case n >= 64:
		w.seen = [2]uint64{0, w.seen[0] << (n - 64)}
	default:
		// n in 1..63 (n == 0 never happens: seq > top). The high word takes the low word's top
		// bits.
		w.seen = [2]uint64{w.seen[0] << n, w.seen[1]<<n | w.seen[0]>>(64-n)}
	}
}

// Epoch returns the peer's current epoch and whether any message was accepted yet.
func (w *ReplayWindow) Epoch() (uint32, bool) { return w.epoch, w.started }

// Highest returns the highest sequence number accepted in the current epoch.
func (w *ReplayWindow) Highest() uint64 { return w.top }

// Reset empties the window. Afterwards any authentic message recorded earlier is accepted
// once more (as after a restart of the receiver): reset only when the peer is removed.
func (w *ReplayWindow) Reset() { *w = ReplayWindow{} }
