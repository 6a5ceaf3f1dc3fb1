package route

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// via is an OSPF route to dst via gw on ifname with metric prio.
func via(dst, gw, ifname string, prio uint32) Route {
	return Route{Table: 254, Dst: netip.MustParsePrefix(dst), Priority: prio, Protocol: 188,
		Nexthops: []Nexthop{{Gateway: netip.MustParseAddr(gw), Ifname: ifname, Weight: 1}}}
}

// standby is a unit with lan0 (10.240.0.2/24), ha0, and two routes of its
// own: an OSPF route to 10.80.0.0/16 with metric 21 (its routing
// daemon's) and a static route to 10.81.0.0/16.
func standby(t *testing.T) *netnstest.NS {
	b := unit(t, "b", "10.240.0.2/24", "")
	b.Run(t, "ip", "route", "add", "10.80.0.0/16", "via", "10.240.0.9", "proto", "ospf", "metric", "21")
	b.Run(t, "ip", "route", "add", "10.81.0.0/16", "via", "10.240.0.9", "proto", "static")
	return b
}

// TestSinkReplaceSYNC7: the sink installs one metric worse than carried,
// leaves a route of the standby's own in that place alone (a record with
// metric 20 against B's route with metric 21), skips unknown and
// excluded interfaces, removes on
// Replace and Delete only routes it installed, names a malformed record
// without stopping the others, and leaves its routes in place on Close;
// a new Sink's Replace then removes the stale ones, RemoveAll the rest.
//
// SPEC: SYNC-2
// SPEC: SYNC-7
func TestSinkReplaceSYNC7(t *testing.T) {
	needRoot(t)
	b := standby(t)
	ctx := context.Background()
	sink, err := NewSink(SinkConfig{NetNS: b.FD, Interfaces: dataOnly})
	if err != nil {
		t.Fatal(err)
	}
	x, y := via("10.82.0.0/16", "10.240.0.9", "lan0", 20), via("10.83.0.0/16", "10.240.0.9", "lan0", 20)
	own, ownOther := via("10.80.0.0/16", "10.240.0.8", "lan0", 20), via("10.80.0.0/16", "10.240.0.8", "lan0", 30)
	unk, ha := via("10.84.0.0/16", "10.240.0.9", "nosuch0", 20), via("10.85.0.0/16", "10.231.0.2", "ha0", 20)
	recs := []channel.Record{UpsertRecord(&x), UpsertRecord(&y), UpsertRecord(&own), UpsertRecord(&ownOther), UpsertRecord(&unk), UpsertRecord(&ha)}
	if err := sink.Apply(ctx, recs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	st := sink.Stats()
	if st.Installed != 3 || st.Kept != 1 || st.UnknownInterface != 2 || sink.Count() != 3 {
		t.Fatalf("stats %+v count %d: want 3 installed, 1 kept (B's own OSPF route), 2 unknown or excluded interfaces", st, sink.Count())
	}
	all := routes(t, b)
	if l := line(all, "10.82.0.0/16"); !strings.Contains(l, "via 10.240.0.9 dev lan0 proto 116 metric 21 onlink") {
		t.Fatalf("the installed route = %q, want it tagged, on-link, metric 20 + 1:\n%s", l, all)
	}
	if l := line(all, "10.80.0.0/16 via 10.240.0.9"); !strings.Contains(l, "proto ospf metric 21") {
		t.Fatalf("B's own OSPF route was changed:\n%s", all)
	}
	if l := line(all, "10.80.0.0/16 via 10.240.0.8"); !strings.Contains(l, "proto 116 metric 31") {
		t.Fatalf("the synced route with another metric is not next to B's own:\n%s", all)
	}
	if err := sink.Replace(ctx, []channel.Record{UpsertRecord(&x)}); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	all = routes(t, b)
	for dst, want := range map[string]bool{"10.82.0.0/16": true, "10.83.0.0/16": false, "10.80.0.0/16 via 10.240.0.8": false,
		"10.80.0.0/16 via 10.240.0.9": true, "10.81.0.0/16": true} {
		if (line(all, dst) != "") != want {
			t.Fatalf("after Replace, route %s present = %v, want %v:\n%s", dst, !want, want, all)
		}
	}
	if sink.Count() != 1 || sink.Stats().RemovedByReplace != 2 {
		t.Fatalf("count %d stats %+v, want 1 route and 2 removed", sink.Count(), sink.Stats())
	}
	if err := sink.Apply(ctx, []channel.Record{DeleteRecord(&own), DeleteRecord(&x)}); err != nil {
		t.Fatal(err)
	}
	all = routes(t, b)
	if line(all, "10.80.0.0/16") == "" || line(all, "10.82.0.0/16") != "" {
		t.Fatalf("Delete removed a route the sink did not install, or kept one it did:\n%s", all)
	}
	bad := UpsertRecord(&x)
	bad.Value = bad.Value[:5]
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&y), bad}); err == nil || !strings.Contains(err.Error(), "record 1") {
		t.Fatalf("malformed record: err = %v, want one naming record 1", err)
	}
	if line(routes(t, b), "10.83.0.0/16") == "" {
		t.Fatal("the good record next to a malformed one was not installed")
	}

	// A restarted plugin: Close leaves the routes, the next Sink's Replace
	// removes those the active no longer has.
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if line(routes(t, b, "proto", "116"), "10.83.0.0/16") == "" {
		t.Fatal("Close removed the installed routes")
	}
	next, err := NewSink(SinkConfig{NetNS: b.FD, Interfaces: dataOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if err := next.Replace(ctx, []channel.Record{UpsertRecord(&x)}); err != nil {
		t.Fatalf("Replace after restart: %v", err)
	}
	if l := line(routes(t, b), "10.83.0.0/16"); l != "" {
		t.Fatalf("the restarted sink's Replace kept a stale route: %s", l)
	}
	if n, err := next.RemoveAll(ctx); err != nil || n != 1 || next.Count() != 0 {
		t.Fatalf("RemoveAll = %d, %v (count %d); want 1 removed", n, err, next.Count())
	}
	all = routes(t, b)
	if strings.Contains(all, "proto 116") || line(all, "10.80.0.0/16") == "" || line(all, "10.81.0.0/16") == "" {
		t.Fatalf("after RemoveAll: want no tagged route and B's own ones:\n%s", all)
	}
}

// TestHoldDownCancelledTKO5: a unit that goes back to standby before the
// hold-down ends keeps the routes and installs again; a hold-down of 0
// removes them at once.
//
// SPEC: TKO-5
func TestHoldDownCancelledTKO5(t *testing.T) {
	needRoot(t)
	b := standby(t)
	ctx := context.Background()
	sink, err := NewSink(SinkConfig{NetNS: b.FD})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	x, y := via("10.82.0.0/16", "10.240.0.9", "lan0", 20), via("10.83.0.0/16", "10.240.0.9", "lan0", 20)
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&x)}); err != nil {
		t.Fatal(err)
	}
	ended := make(chan HoldDownResult, 2)
	const hold = 200 * time.Millisecond
	if n, err := sink.HoldDown(ctx, hold, func(r HoldDownResult) { ended <- r }); n != 1 || err != nil {
		t.Fatalf("HoldDown = %d, %v; want 1 route held", n, err)
	}
	sink.Resume()
	time.Sleep(3 * hold)
	select {
	case r := <-ended:
		t.Fatalf("a cancelled hold-down ended: %+v", r)
	default:
	}
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&y)}); err != nil {
		t.Fatal(err)
	}
	tagged := routes(t, b, "proto", "116")
	if line(tagged, "10.82.0.0/16") == "" || line(tagged, "10.83.0.0/16") == "" {
		t.Fatalf("after Resume: want the held route kept and a new one installed:\n%s", tagged)
	}
	if _, err := sink.HoldDown(ctx, 0, func(r HoldDownResult) { ended <- r }); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ended:
		if r.Removed != 2 || r.Err != nil {
			t.Fatalf("hold-down 0: %+v, want 2 removed", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a hold-down of 0 never ended")
	}
	all := routes(t, b)
	if strings.Contains(all, "proto 116") || line(all, "10.80.0.0/16") == "" || line(all, "10.81.0.0/16") == "" {
		t.Fatalf("after a hold-down of 0: want no tagged route and B's own ones:\n%s", all)
	}
	if n, err := sink.HoldDown(ctx, time.Hour, nil); n != 0 || err != nil {
		t.Fatalf("HoldDown with nothing installed = %d, %v", n, err)
	}
}

var _ channel.Source = (*Source)(nil)
var _ channel.Sink = (*Sink)(nil)
