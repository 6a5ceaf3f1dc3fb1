package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
	"github.com/tandem-ha/tandem/plugins/statesync/route"
)

// waitEvent returns the next plugin event of type typ p forwards, skipping
// others, or fails the test after 10 s.
func waitEvent(t *testing.T, p *plugin, typ string) *sdk.PluginEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case o := <-p.events:
			if ev := o.GetPluginEvent(); ev.GetType() == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", typ)
			return nil
		}
	}
}

// SPEC TKO-5: the role change to active starts the route hold-down with
// the intent's time and reports it; a changed hold-down applies in place
// (no stream rebuild); at the end the synced route is gone, reported too;
// turning the routes channel off removes what the sink installed. The
// routes channel's Sink works in a namespace of the test's (the seam: the
// plugin keeps the Sink it finds).
//
// SPEC: TKO-5
func TestTakeoverStartsRouteHoldDown(t *testing.T) {
	netnstest.NeedRoot(t, "creates a network namespace and writes its routing table", "ip")
	ns := netnstest.New(t, "plugin", "b")
	ns.Run(t, "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lanp")
	ns.Run(t, "ip", "link", "set", "lan0", "up")
	synced := func() bool {
		out := ns.Run(t, "ip", "route", "show", "proto", "116")
		return strings.Contains(out, "10.90.0.0/16")
	}
	sink, err := route.NewSink(route.SinkConfig{NetNS: ns.FD})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := newPlugin()
	p.routes = &routing{sink: sink}
	t.Cleanup(func() { _, _ = p.Apply(ctx, intent(sdk.RoleStandalone, &sdk.StatesyncSpec{})) })
	sp := spec("127.0.0.1:47831", "127.0.0.1:47832")
	sp.Channels, sp.RouteHoldDownSeconds = []string{"routes"}, 1
	if res, err := p.Apply(ctx, intent(sdk.RoleStandby, sp)); err != nil || res.GetChanges() != 2 {
		t.Fatalf("standby: %v, %v", res, err)
	}
	if p.routes == nil || p.routes.sink != sink {
		t.Fatal("the plugin replaced the routes channel's Sink")
	}
	// What the standby installed from the active.
	ns.Run(t, "ip", "route", "add", "10.90.0.0/16", "via", "10.240.0.9", "dev", "lan0", "onlink", "proto", "116")

	start := time.Now()
	if res, err := p.Apply(ctx, intent(sdk.RoleActive, sp)); err != nil || res.GetChanges() != 1 {
		t.Fatalf("takeover: %v, %v", res, err)
	}
	ev := waitEvent(t, p, eventHoldDownBegin)
	if !strings.Contains(ev.GetMessage(), "keeping 1 synced routes for 1s") || ev.GetSeverity() != "info" {
		t.Fatalf("hold-down start event: %v", ev)
	}
	longer := spec("127.0.0.1:47831", "127.0.0.1:47832")
	longer.Channels, longer.RouteHoldDownSeconds = sp.Channels, 30
	before := p.run
	if res, err := p.Apply(ctx, intent(sdk.RoleActive, longer)); err != nil || res.GetChanges() != 0 || p.run != before {
		t.Fatalf("hold-down change: %v, %v; stream rebuilt %v", res, err, p.run != before)
	}
	if !synced() && time.Since(start) < time.Second {
		t.Fatal("the synced route went before the hold-down ended")
	}
	ev = waitEvent(t, p, eventHoldDownEnd)
	if !strings.Contains(ev.GetMessage(), "1 of 1 synced routes removed") || time.Since(start) < time.Second {
		t.Fatalf("hold-down end event after %s: %v", time.Since(start), ev)
	}
	if synced() {
		t.Fatal("the synced route is still there after the hold-down")
	}

	// Back to standby, a route installed, then routes no longer synced.
	if _, err := p.Apply(ctx, intent(sdk.RoleStandby, longer)); err != nil {
		t.Fatal(err)
	}
	ns.Run(t, "ip", "route", "add", "10.90.0.0/16", "via", "10.240.0.9", "dev", "lan0", "onlink", "proto", "116")
	off := spec("127.0.0.1:47831", "127.0.0.1:47832")
	off.Channels = []string{"users"}
	if _, err := p.Apply(ctx, intent(sdk.RoleStandby, off)); err != nil {
		t.Fatal(err)
	}
	if p.routes != nil || synced() {
		t.Fatal("turning the routes channel off left its Sink or its route")
	}
}
