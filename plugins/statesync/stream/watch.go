package stream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// inRecord is a record emitted by a source's Watch.
type inRecord struct {
	ch  uint8
	rec channel.Record
}

// inLost is a source's report of missed changes (ch -1: the inbox itself overflowed).
type inLost struct {
	ch     int
	reason string
}

// inbox collects what the watches emit, for the loop. Emitting never blocks: beyond limit
// records the inbox drops them and reports an overrun instead.
type inbox struct {
	mu       sync.Mutex
	recs     []inRecord
	lost     []inLost
	limit    int
	overflow bool
	notify   chan struct{}
}

func (b *inbox) signal() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *inbox) add(r inRecord) {
	b.mu.Lock()
	if len(b.recs) >= b.limit {
		if !b.overflow {
			b.overflow = true
			b.lost = append(b.lost, inLost{ch: -1, reason: fmt.Sprintf("more than %d records waiting for the stream", b.limit)})
		}
		b.mu.Unlock()
		return
	}
	b.recs = append(b.recs, r)
	first := len(b.recs) == 1
	b.mu.Unlock()
	if first {
		b.signal()
	}
}

func (b *inbox) addLost(l inLost) {
	b.mu.Lock()
	b.lost = append(b.lost, l)
	b.mu.Unlock()
	b.signal()
}

// take returns and clears what was collected.
func (b *inbox) take() ([]inRecord, []inLost) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, l := b.recs, b.lost
	b.recs, b.lost, b.overflow = nil, nil, false
	return r, l
}

// updateWatches runs the sources' watches while the endpoint runs and is active.
// Endpoint.mu is held.
func (e *Endpoint) updateWatches() {
	want := e.role == RoleActive && e.runCtx != nil
	switch {
	case want && e.watchCancel == nil:
		ctx, cancel := context.WithCancel(e.runCtx)
		e.watchCancel = cancel
		for i, c := range e.chans {
			if c.src != nil {
				e.watchWG.Add(1)
				go func() {
					defer e.watchWG.Done()
					e.watch(ctx, uint8(i), c.src)
				}()
			}
		}
	case !want && e.watchCancel != nil:
		e.watchCancel()
		e.watchCancel = nil
	}
}

// watch runs one source's Watch until ctx ends, restarting it after a failure; changes
// missed while it was not running are reported as lost, which starts a resync.
func (e *Endpoint) watch(ctx context.Context, ch uint8, src channel.Source) {
	emit := func(r channel.Record) { e.in.add(inRecord{ch: ch, rec: r}) }
	lost := func(reason string) { e.in.addLost(inLost{ch: int(ch), reason: reason}) }
	for {
		err := src.Watch(ctx, emit, lost)
		if ctx.Err() != nil {
			return
		}
		e.log.Error("state sync: watch failed, restarting", "channel", src.Name(), "err", err, "after", e.cfg.RetryDelay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.cfg.RetryDelay):
		}
		lost(fmt.Sprintf("watch restarted after: %v", err))
	}
}
