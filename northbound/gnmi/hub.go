package gnmi

import (
	"sync"

	"github.com/openconfig/gnmi/ctree"
)

// hub hands every change of the sources to the on-change subscriptions
// whose paths match it. publish runs on the writer's goroutine (the state
// tree's or the mirror's): it only matches and queues, never waits.
type hub struct {
	mu    sync.RWMutex
	sinks map[*sink]struct{}
}

func newHub() *hub { return &hub{sinks: map[*sink]struct{}{}} }

// sink is one stream's on-change subscriptions and its queue.
type sink struct {
	patterns []*pattern
	q        *queue
}

// add registers s; the returned func removes it.
func (h *hub) add(s *sink) (remove func()) {
	h.mu.Lock()
	h.sinks[s] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.sinks, s)
		h.mu.Unlock()
	}
}

// publish is the client of a source's cache.
func (h *hub) publish(l *ctree.Leaf) {
	c, ok := changeOf(l)
	if !ok {
		return
	}
	var key string
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.sinks {
		for _, p := range s.patterns {
			if _, ok := p.matchLen(c.elems); ok {
				if key == "" {
					key = pathKey(c.elems)
				}
				s.q.put(key, c)
				break
			}
		}
	}
}

// queue holds the changes a stream has not sent yet, the latest per leaf
// in the order leaves first changed: a slow reader gets the newest value
// of every leaf (or its delete) and never blocks a writer.
type queue struct {
	mu    sync.Mutex
	order []string
	items map[string]change
	ready chan struct{}
}

func newQueue() *queue { return &queue{items: map[string]change{}, ready: make(chan struct{}, 1)} }

func (q *queue) put(key string, c change) {
	q.mu.Lock()
	if _, ok := q.items[key]; !ok {
		q.order = append(q.order, key)
	}
	q.items[key] = c
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns every queued change, oldest leaf first, and empties q.
func (q *queue) take() []change {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]change, 0, len(q.order))
	for _, k := range q.order {
		out = append(out, q.items[k])
	}
	q.order = q.order[:0]
	clear(q.items)
	return out
}
