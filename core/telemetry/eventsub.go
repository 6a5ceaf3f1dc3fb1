package telemetry

// SubscriberBuffer is how many events a subscriber may fall behind before
// it is dropped.
const SubscriberBuffer = 256

type subscriber struct {
	ch   chan Event
	done bool // channel closed
}

// Subscribe returns a channel that receives every event appended from now
// on, and a function that ends the subscription. Append never waits for a
// subscriber: one that falls SubscriberBuffer events behind is dropped and
// its channel closed. A subscriber that sees its channel closed (without
// having cancelled) catches up with List(lastSeenSeq, 0) and subscribes
// again; to miss nothing, subscribe first and then List, skipping the
// sequence numbers already seen.
func (l *EventLog) Subscribe() (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, SubscriberBuffer)}
	l.mu.Lock()
	if l.closed {
		s.done = true
		close(s.ch)
	} else {
		l.subs[s] = struct{}{}
	}
	l.mu.Unlock()
	return s.ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.drop(s)
	}
}

// drop ends subscription s. Callers hold l.mu.
func (l *EventLog) drop(s *subscriber) {
	delete(l.subs, s)
	if !s.done {
		s.done = true
		close(s.ch)
	}
}

// publish hands e to every subscriber, dropping the ones that are full.
// Callers hold l.mu.
func (l *EventLog) publish(e Event) {
	for s := range l.subs {
		select {
		case s.ch <- e:
		default:
			l.drop(s)
		}
	}
}
