package stream

import (
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// keyring holds the key used for sending and the previous one, accepted until retireAt
// (SEC-1: the key can be changed in place). Both units get the new key by config sync at
// about the same time; until the slower one has it, its datagrams are still accepted
// (previous key) and the faster one's are dropped and retransmitted.
type keyring struct {
	current  *frame.Key
	previous *frame.Key
	retireAt time.Time
}

// rotate makes k current and keeps the current key until now+grace.
func (r *keyring) rotate(k *frame.Key, now time.Time, grace time.Duration) {
	if r.current != nil && r.current.Fingerprint() == k.Fingerprint() {
		return
	}
	r.previous, r.current, r.retireAt = r.current, k, now.Add(grace)
}

// retire forgets the previous key once its grace period is over.
func (r *keyring) retire(now time.Time) {
	if r.previous != nil && !now.Before(r.retireAt) {
		r.previous = nil
	}
}

// open authenticates b with the current, then the previous key; previous says which.
func (r *keyring) open(h frame.Header, plen int, b []byte) (payload []byte, previous bool, err error) {
	p, err := r.current.Open(nil, h, plen, b)
	if err == nil || r.previous == nil {
		return p, false, err
	}
	if p, err2 := r.previous.Open(nil, h, plen, b); err2 == nil {
		return p, true, nil
	}
	return nil, false, err
}
