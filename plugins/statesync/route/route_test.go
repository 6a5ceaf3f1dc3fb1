package route

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// dataOnly excludes the HA link, as the plugin does.
func dataOnly(name string) bool { return name != "ha0" }

// TestSyncAndHoldDownTKO5 is the proof of the channel and of the
// hold-down: the active A learns OSPF routes (IPv4, IPv6, multipath);
// the Source emits them, but not a static route nor an OSPF route via
// the HA link; the Sink installs them into the standby B's main table
// tagged Protocol, one metric worse, via B's lan0, although B holds no
// address in the gateway's subnet; a route withdrawn on A goes on B. Then
// B takes over: during the hold-down the routes stay and nothing is
// installed any more; B's routing daemon relearns one prefix with the
// original metric (ip route add ... proto ospf, NLM_F_EXCL as BIRD adds)
// and the kernel uses it at once; at the end of the hold-down the
// relearned route is there with proto ospf, the synced ones are gone,
// and a route B had of its own is untouched.
//
// SPEC: SYNC-2
// SPEC: TKO-5
func TestSyncAndHoldDownTKO5(t *testing.T) {
	needRoot(t)
	a := unit(t, "a", "10.230.0.1/24", "fd00:230::1/64")
	b := unit(t, "b", "", "")
	ctx, cancel := context.WithCancel(context.Background())
	src, err := NewSource(SourceConfig{NetNS: a.FD, Interfaces: dataOnly})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, a)
	t.Cleanup(cancel) // runs before startWatch's cleanup waits for Watch
	for _, r := range [][]string{
		{"10.50.0.0/16", "via", "10.230.0.9", "dev", "lan0", "proto", "ospf", "metric", "20"},
		{"10.51.0.0/16", "via", "10.230.0.9", "dev", "lan0", "proto", "ospf", "metric", "20"},
		{"10.54.0.0/16", "proto", "ospf", "metric", "20", "nexthop", "via", "10.230.0.9", "dev", "lan0", "nexthop", "via", "10.230.0.10", "dev", "lan0", "weight", "3"},
		{"fd00:50::/48", "via", "fd00:230::9", "dev", "lan0", "proto", "ospf", "metric", "20"},
		{"10.52.0.0/16", "via", "10.230.0.9", "dev", "lan0", "proto", "static"},
		{"10.53.0.0/16", "via", "10.231.0.2", "dev", "ha0", "proto", "ospf"},
	} {
		a.Run(t, append([]string{"ip", "route", "add"}, r...)...)
	}
	synced := []string{"10.50.0.0/16", "10.51.0.0/16", "10.54.0.0/16", "fd00:50::/48"}
	waitFor(t, "the OSPF routes' records", func() bool {
		for _, d := range synced {
			if !seen(t, rec, channel.Upsert, d) {
				return false
			}
		}
		return true
	})
	got := latest(t, rec.Records(), channel.Upsert)
	for _, d := range []string{"10.52.0.0/16", "10.53.0.0/16"} {
		if _, ok := got[netip.MustParsePrefix(d)]; ok {
			t.Errorf("Watch synced %s (a static route, or one via the HA link)", d)
		}
	}
	if r := got[netip.MustParsePrefix("10.54.0.0/16")]; len(r.Nexthops) != 2 || r.Nexthops[1].Weight != 3 || r.Protocol != 188 {
		t.Errorf("multipath route: %+v", r)
	}
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inSnap := latest(t, snap, channel.Upsert); len(inSnap) != len(synced) {
		t.Errorf("Snapshot holds %d routes, want %d: %v", len(inSnap), len(synced), inSnap)
	}

	b.Run(t, "ip", "route", "add", "10.70.0.0/16", "via", "10.230.0.9", "dev", "lan0", "onlink", "proto", "static")
	sink, err := NewSink(SinkConfig{NetNS: b.FD, Interfaces: dataOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	if err := sink.Apply(ctx, rec.Records()); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	tagged := routes(t, b, "proto", "116")
	for dst, want := range map[string]string{
		"10.50.0.0/16": "via 10.230.0.9 dev lan0 metric 21 onlink",
		"10.54.0.0/16": "metric 21 nexthop via 10.230.0.9 dev lan0 weight 1 onlink nexthop via 10.230.0.10 dev lan0 weight 3 onlink",
		"fd00:50::/48": "via fd00:230::9 dev lan0 metric 21 onlink",
	} {
		if l := strings.Join(strings.Fields(line(tagged, dst)), " "); !strings.Contains(l, want) {
			t.Errorf("B's route to %s = %q, want it tagged and %q:\n%s", dst, l, want, tagged)
		}
	}
	if sink.Count() != len(synced) {
		t.Errorf("Count = %d, want %d", sink.Count(), len(synced))
	}

	a.Run(t, "ip", "route", "del", "10.51.0.0/16", "proto", "ospf", "metric", "20")
	waitFor(t, "the withdrawn route's Delete", func() bool { return seen(t, rec, channel.Delete, "10.51.0.0/16") })
	if err := sink.Apply(ctx, rec.Records()); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if l := line(routes(t, b), "10.51.0.0/16"); l != "" {
		t.Fatalf("the route withdrawn on A is still on B: %s", l)
	}

	// Takeover.
	const hold = 3 * time.Second
	ended := make(chan HoldDownResult, 1)
	start := time.Now()
	held, err := sink.HoldDown(ctx, hold, func(r HoldDownResult) { ended <- r })
	if err != nil || held != 3 {
		t.Fatalf("HoldDown = %d, %v; want 3 routes held", held, err)
	}
	during := routes(t, b, "proto", "116")
	b.Run(t, "ip", "route", "add", "10.50.0.0/16", "via", "10.230.0.8", "dev", "lan0", "onlink", "proto", "ospf", "metric", "20")
	used := b.Run(t, "ip", "route", "get", "10.50.1.1")
	late := sink.Apply(ctx, []channel.Record{UpsertRecord(&Route{Table: 254, Dst: netip.MustParsePrefix("10.56.0.0/16"),
		Priority: 20, Protocol: 188, Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("10.230.0.9"), Ifname: "lan0"}}})})
	if time.Since(start) >= hold {
		t.Fatalf("the machine took %s to look at the held routes: the test cannot tell held from removed", time.Since(start))
	}
	for _, d := range []string{"10.50.0.0/16", "10.54.0.0/16", "fd00:50::/48"} {
		if line(during, d) == "" {
			t.Errorf("during the hold-down B lacks %s:\n%s", d, during)
		}
	}
	if !strings.Contains(used, "via 10.230.0.8 ") {
		t.Errorf("B does not forward on the relearned route at once: %s", used)
	}
	var res HoldDownResult
	select {
	case res = <-ended:
	case <-time.After(hold + 10*time.Second):
		t.Fatal("the hold-down never ended")
	}
	if res.Err != nil || res.Held != 3 || res.Removed != 3 || res.Relearned != 1 {
		t.Fatalf("hold-down result %+v, want 3 held, 3 removed, 1 relearned", res)
	}
	if took := time.Since(start); took < hold {
		t.Fatalf("the hold-down ended after %s, before %s", took, hold)
	}
	after := routes(t, b)
	if l := line(after, "10.50.0.0/16"); !strings.Contains(l, "via 10.230.0.8 dev lan0 proto ospf metric 20") || strings.Contains(after, "proto 116") {
		t.Errorf("the relearned route = %q, want it there with proto ospf:\n%s", l, after)
	}
	for _, d := range []string{"10.54.0.0/16", "fd00:50::/48", "10.56.0.0/16"} {
		if l := line(after, d); l != "" {
			t.Errorf("after the hold-down B still has %s", l)
		}
	}
	if l := line(after, "10.70.0.0/16"); !strings.Contains(l, "proto static") {
		t.Errorf("B's own static route = %q, want it untouched:\n%s", l, after)
	}
	if late != nil || sink.Stats().IgnoredActive != 1 || sink.Count() != 0 {
		t.Errorf("Apply while active: %v; stats %+v, count %d; want the record ignored and nothing held", late, sink.Stats(), sink.Count())
	}
}

// TestSourceFollowsTheKernelSYNC2: what the kernel changes without a
// per-route event reaches the standby too. IPv4 routes vanish silently
// when their interface goes down: a Delete follows. Deleting one nexthop
// of an IPv6 multipath route leaves the other: an Upsert with it follows,
// no Delete. A static route that replaces an OSPF one with the same key
// makes it a Delete.
//
// SPEC: SYNC-2
func TestSourceFollowsTheKernelSYNC2(t *testing.T) {
	needRoot(t)
	a := unit(t, "a", "10.230.0.1/24", "fd00:230::1/64")
	a.Run(t, "ip", "link", "add", "lan1", "type", "veth", "peer", "name", "lan1p")
	a.Run(t, "ip", "link", "set", "lan1p", "up")
	a.Run(t, "ip", "link", "set", "lan1", "up")
	a.Run(t, "ip", "addr", "add", "10.232.0.1/24", "dev", "lan1")
	ctx, cancel := context.WithCancel(context.Background())
	src, err := NewSource(SourceConfig{NetNS: a.FD})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, a)
	t.Cleanup(cancel)
	since := func(n int) []channel.Record { return rec.Records()[n:] }

	a.Run(t, "ip", "route", "add", "10.60.0.0/16", "via", "10.232.0.9", "dev", "lan1", "proto", "ospf")
	waitFor(t, "the route on lan1", func() bool { return seen(t, rec, channel.Upsert, "10.60.0.0/16") })
	n := len(rec.Records())
	a.Run(t, "ip", "link", "set", "lan1", "down")
	waitFor(t, "a Delete for the route of the downed lan1", func() bool {
		_, ok := latest(t, since(n), channel.Delete)[netip.MustParsePrefix("10.60.0.0/16")]
		return ok
	})

	a.Run(t, "ip", "-6", "route", "add", "fd00:60::/48", "proto", "ospf", "metric", "20",
		"nexthop", "via", "fd00:230::9", "dev", "lan0", "nexthop", "via", "fd00:230::10", "dev", "lan0")
	waitFor(t, "the IPv6 multipath route", func() bool {
		return len(latest(t, rec.Records(), channel.Upsert)[netip.MustParsePrefix("fd00:60::/48")].Nexthops) == 2
	})
	n = len(rec.Records())
	a.Run(t, "ip", "-6", "route", "del", "fd00:60::/48", "via", "fd00:230::10", "dev", "lan0", "proto", "ospf", "metric", "20")
	waitFor(t, "an Upsert with the remaining nexthop", func() bool {
		hs := latest(t, since(n), channel.Upsert)[netip.MustParsePrefix("fd00:60::/48")].Nexthops
		return len(hs) == 1 && hs[0].Gateway == netip.MustParseAddr("fd00:230::9")
	})
	if _, ok := latest(t, since(n), channel.Delete)[netip.MustParsePrefix("fd00:60::/48")]; ok {
		t.Fatal("deleting one nexthop of a multipath route sent a Delete of the route")
	}

	a.Run(t, "ip", "route", "add", "10.61.0.0/16", "via", "10.230.0.9", "proto", "ospf")
	waitFor(t, "the OSPF route", func() bool { return seen(t, rec, channel.Upsert, "10.61.0.0/16") })
	a.Run(t, "ip", "route", "replace", "10.61.0.0/16", "via", "10.230.0.9", "proto", "static")
	waitFor(t, "a Delete for the route a static one replaced", func() bool { return seen(t, rec, channel.Delete, "10.61.0.0/16") })
	if st := src.Stats(); st.Rereads == 0 || st.Unreadable != 0 {
		t.Errorf("stats %+v: want re-reads and no unreadable event", st)
	}
}

// TestSourceOverrunSYNC2: a burst that overruns a small event socket is
// reported lost (the stream then runs a bulk sync), and the Snapshot
// holds every route.
//
// SPEC: SYNC-2
func TestSourceOverrunSYNC2(t *testing.T) {
	needRoot(t)
	a := unit(t, "a", "10.230.0.1/24", "")
	ctx, cancel := context.WithCancel(context.Background())
	src, err := NewSource(SourceConfig{NetNS: a.FD, ReadBuffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, a)
	t.Cleanup(cancel)
	const n = 2000
	var batch strings.Builder
	for i := range n {
		fmt.Fprintf(&batch, "route add 10.100.%d.%d/32 via 10.230.0.9 proto rip\n", i>>8, i&255)
	}
	cmd := a.Command("ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	waitFor(t, "an overrun", func() bool { return len(rec.LostReasons()) > 0 })
	snap, err := src.Snapshot(ctx)
	if err != nil || len(snap) != n {
		t.Fatalf("Snapshot: %d routes, %v; want %d", len(snap), err, n)
	}
	if src.Stats().Overruns == 0 {
		t.Fatalf("stats %+v: no overrun counted", src.Stats())
	}
}
