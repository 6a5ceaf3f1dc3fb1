package probe

import (
	"context"
	"net/netip"
	"time"
)

// probeKey identifies an outstanding echo request.
type probeKey struct {
	source, destination netip.Addr
	seq                 int
}

// round sends one echo request to every target and waits up to the
// timeout for the replies. It returns the targets that answered (nil when
// ctx ended).
func (p *Prober) round(ctx context.Context, socks *sockets, targets []Target) map[Target]bool {
	sources := map[netip.Addr]bool{}
	for _, t := range targets {
		sources[t.Source] = true
	}
	socks.sync(ctx, sources)
	socks.drain()
	answered := map[Target]bool{}
	pending := map[probeKey]Target{}
	for _, t := range targets {
		p.seq = (p.seq + 1) & 0xffff
		if socks.send(t.Source, t.Destination, p.seq) {
			pending[probeKey{t.Source, t.Destination, p.seq}] = t
		}
	}
	if len(pending) == 0 {
		return answered
	}
	timer := time.NewTimer(p.cfg.Timeout)
	defer timer.Stop()
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			return answered
		case r := <-socks.replies:
			k := probeKey{r.local, r.from, r.seq}
			if t, ok := pending[k]; ok {
				answered[t] = true
				delete(pending, k)
			}
		}
	}
	return answered
}
