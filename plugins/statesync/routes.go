package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/statesync/route"
	"github.com/tandem-ha/tandem/plugins/statesync/stream"
)

// Event types of the route hold-down (TKO-5), for the HA event log.
const (
	// eventHoldDownBegin: the unit became active and keeps the synced
	// routes for the hold-down time.
	eventHoldDownBegin = "route-hold-down-start"
	// eventHoldDownEnd: the hold-down ended; the synced routes the
	// routing daemon did not relearn were removed.
	eventHoldDownEnd = "route-hold-down-end"
)

// routing is the routes channel's Sink and the interfaces it installs no
// route via.
type routing struct {
	sink *route.Sink
	// haLinks are the HA links as of the latest endpoint build.
	haLinks atomic.Pointer[map[string]bool]
}

// routeSinkLocked returns the routes channel's Sink, creating it on first
// use; ha are the HA links the endpoint being built found. A Sink created
// while the unit is active starts in hold-down, so that routes a previous
// run of the plugin installed go too.
func (p *plugin) routeSinkLocked(ctx context.Context, ha map[string]bool, spec *sdk.StatesyncSpec) (*route.Sink, error) {
	created := p.routes == nil
	if created {
		r := &routing{}
		sink, err := route.NewSink(route.SinkConfig{Logger: p.log,
			Interfaces: func(name string) bool { return !(*r.haLinks.Load())[name] }})
		if err != nil {
			return nil, fmt.Errorf("statesync: %w", err)
		}
		r.sink = sink
		p.routes = r
	}
	p.routes.haLinks.Store(&ha)
	if created {
		p.routeRoleLocked(ctx, stream.RoleOther, p.role, spec)
	}
	return p.routes.sink, nil
}

// dropRoutesLocked removes the routes the routes channel installed and
// closes its Sink, when routes are no longer synced: nothing would update
// or remove them any more. It reports whether there was a Sink.
func (p *plugin) dropRoutesLocked(ctx context.Context) bool {
	if p.routes == nil {
		return false
	}
	n, err := p.routes.sink.RemoveAll(ctx)
	if err != nil {
		p.log.Warn("statesync routes: removing the synced routes", "removed", n, "err", err)
	} else {
		p.log.Info("statesync routes: no longer synced, synced routes removed", "removed", n)
	}
	_ = p.routes.sink.Close()
	p.routes = nil
	return true
}

// routeRoleLocked starts the route hold-down when the unit becomes active
// (TKO-5) and cancels it when the unit stops being active.
func (p *plugin) routeRoleLocked(ctx context.Context, from, to stream.Role, spec *sdk.StatesyncSpec) {
	if p.routes == nil {
		return
	}
	if to != stream.RoleActive {
		if from == stream.RoleActive {
			p.routes.sink.Resume()
		}
		return
	}
	d := time.Duration(spec.GetRouteHoldDownSeconds()) * time.Second
	held, err := p.routes.sink.HoldDown(ctx, d, p.holdDownEnded)
	if err != nil {
		p.log.Warn("statesync routes: route hold-down", "err", err)
		p.forward(stream.Event{Time: time.Now(), Type: eventHoldDownBegin, Severity: stream.SeverityWarning,
			Message: "route hold-down: reading the synced routes failed: " + err.Error()})
		return
	}
	if held == 0 {
		return
	}
	p.log.Info("statesync routes: route hold-down started", "routes", held, "hold-down", d)
	p.forward(stream.Event{Time: time.Now(), Type: eventHoldDownBegin, Severity: stream.SeverityInfo,
		Message: fmt.Sprintf("route hold-down: keeping %d synced routes for %s while the routing daemon relearns them", held, d)})
}

// holdDownEnded reports the end of a route hold-down.
func (p *plugin) holdDownEnded(r route.HoldDownResult) {
	msg := fmt.Sprintf("route hold-down ended: %d of %d synced routes removed, %d destinations relearned by the routing daemon",
		r.Removed, r.Held, r.Relearned)
	ev := stream.Event{Time: time.Now(), Type: eventHoldDownEnd, Severity: stream.SeverityInfo, Message: msg}
	if r.Err != nil {
		ev.Severity, ev.Message = stream.SeverityWarning, msg+": "+r.Err.Error()
		p.log.Warn("statesync routes: "+msg, "err", r.Err)
	} else {
		p.log.Info("statesync routes: " + msg)
	}
	p.forward(ev)
}
