package store

import "sync"

// Subscribe returns a channel that receives the running revision's info
// after every new running revision (and after a confirmation, with
// PendingConfirm false). The channel holds one value and the latest wins,
// so a slow reader misses intermediate revisions but never blocks a
// commit. The returned func ends the subscription and closes the channel;
// Close ends all subscriptions.
func (s *Store) Subscribe() (<-chan RevisionInfo, func()) {
	ch := make(chan RevisionInfo, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(ch)
		return ch, func() {}
	}
	id := s.nextSub
	s.nextSub++
	s.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if c, ok := s.subs[id]; ok {
				delete(s.subs, id)
				close(c)
			}
		})
	}
}

// publishLocked hands info to every subscriber, replacing an unread
// value. Needs mu.
func (s *Store) publishLocked(info RevisionInfo) {
	for _, ch := range s.subs {
		select {
		case ch <- info:
			continue
		default:
		}
		select {
		case <-ch:
		default:
		}
		select {
		case ch <- info:
		default:
		}
	}
}
