package route

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// expireTimeout bounds the netlink work at the end of a hold-down.
const expireTimeout = 10 * time.Second

// HoldDownResult is what the end of a hold-down did.
type HoldDownResult struct {
	// Held is the number of routes tagged Protocol when it began.
	Held int
	// Removed is the number of routes tagged Protocol it removed: those
	// no routing daemon had replaced.
	Removed int
	// Relearned is the number of held destinations (prefix and TOS) for
	// which a routing daemon had installed a route of its own by then.
	Relearned int
	// Err is what went wrong removing routes; the ones it names stay.
	Err error
}

// prefix is a route's destination without its metric.
type prefix struct {
	dst netip.Prefix
	tos uint8
}

// HoldDown starts the route hold-down of a unit that became active
// (TKO-5): the routes the Sink installed stay for d, so that the new
// active forwards on the routes the old one had learned while its own
// routing daemon relearns them, and then every route still tagged
// Protocol is removed; the daemon's routes are never touched. A route
// the daemon relearns with its original metric (or a better one) sits
// next to the Sink's, which is installed MetricOffset worse, and the
// kernel prefers it at once; relearned with a worse metric, the Sink's
// copy is preferred until the end. (A daemon that treats the Sink's
// routes as kernel routes and prefers those, as FRR's zebra does with its
// distance 0 for kernel routes, installs its own when they go.) d = 0
// removes them at once.
//
// From HoldDown until Resume the Sink installs nothing (Apply and Replace
// ignore their records), so nothing comes back after the hold-down. A
// second HoldDown starts over. HoldDown returns the number of routes
// held; when the hold-down ends, done (if not nil) is called with what
// it did, on a goroutine of its own, unless Resume or Close cancelled it
// first. With no route held nothing is scheduled.
func (s *Sink) HoldDown(ctx context.Context, d time.Duration, done func(HoldDownResult)) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelHoldLocked()
	s.active = true
	ks, err := s.mine(ctx)
	if err == nil && len(ks) == 0 {
		return 0, nil
	}
	held := make(map[prefix]struct{}, len(ks))
	for _, rt := range ks {
		held[prefix{rt.Dst, rt.TOS}] = struct{}{}
	}
	gen := s.holdGen
	s.hold = time.AfterFunc(d, func() {
		res, ok := s.expire(gen, len(ks), held)
		if ok && done != nil {
			done(res)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("route hold-down: %w", err)
	}
	return len(ks), nil
}

// Resume is called when the unit is no longer active: it cancels a
// pending hold-down, leaving the routes in place, and lets Apply and
// Replace install again.
func (s *Sink) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelHoldLocked()
	s.active = false
}

// cancelHoldLocked stops a pending hold-down; a timer that fired already
// finds holdGen moved on.
func (s *Sink) cancelHoldLocked() {
	s.holdGen++
	if s.hold != nil {
		s.hold.Stop()
		s.hold = nil
	}
}

// expire ends hold-down gen: it removes every route tagged Protocol and
// counts the held destinations a routing daemon relearned. ok is false
// if the hold-down was cancelled.
func (s *Sink) expire(gen uint64, n int, held map[prefix]struct{}) (res HoldDownResult, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.holdGen {
		return res, false
	}
	s.hold = nil
	ctx, cancel := context.WithTimeout(context.Background(), expireTimeout)
	defer cancel()
	res.Held = n
	ks, err := s.mainRoutes(ctx)
	if err != nil {
		res.Err = fmt.Errorf("route hold-down: %w", err)
		return res, true
	}
	relearned := map[prefix]struct{}{}
	var errs []error
	for i := range ks {
		rt := ks[i].key()
		p := prefix{rt.Dst, rt.TOS}
		if ks[i].protocol != Protocol {
			if _, ok := held[p]; ok && Dynamic(ks[i].protocol) {
				relearned[p] = struct{}{}
			}
			continue
		}
		if err := s.del(ctx, &rt); err != nil {
			errs = append(errs, fmt.Errorf("%s metric %d: %w", rt.Dst, rt.Priority, err))
			continue
		}
		res.Removed++
	}
	res.Relearned = len(relearned)
	res.Err = channel.JoinErrors("route hold-down: remove", errs)
	clear(s.installed)
	s.holdDowns.Add(1)
	s.removedHeld.Add(uint64(res.Removed))
	s.relearned.Add(uint64(res.Relearned))
	return res, true
}

// RemoveAll removes every route tagged Protocol from the main table and
// returns how many it removed. The plugin calls it when routes are no
// longer synced: nothing would ever update or remove them otherwise.
func (s *Sink) RemoveAll(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelHoldLocked()
	ks, err := s.mine(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, rt := range ks {
		if err := s.del(ctx, &rt); err != nil {
			errs = append(errs, fmt.Errorf("remove %s metric %d: %w", rt.Dst, rt.Priority, err))
			continue
		}
		n++
	}
	clear(s.installed)
	return n, channel.JoinErrors("route remove", errs)
}
