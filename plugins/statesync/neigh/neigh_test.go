package neigh

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// lan is a bridge (in sw) joining the active A, the standby B and a host
// H; A also has an HA link ha0 to a peer, which is never synced.
type lan struct{ sw, a, b, h, peer *netnstest.NS }

func newLAN(t *testing.T) *lan {
	l := &lan{sw: netnstest.New(t, nsPrefix, "sw"), a: netnstest.New(t, nsPrefix, "a"), b: netnstest.New(t, nsPrefix, "b"), h: netnstest.New(t, nsPrefix, "h"), peer: netnstest.New(t, nsPrefix, "peer")}
	l.sw.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	l.sw.Run(t, "ip", "link", "set", "br0", "up")
	for _, m := range []struct {
		ns        *netnstest.NS
		port, dev string
		v4, v6    string
	}{{l.a, "pa", "lan0", "10.210.0.1/24", "fd00:210::1/64"}, {l.b, "pb", "lan0", "10.210.0.2/24", "fd00:210::2/64"},
		{l.h, "ph", "eth0", "10.210.0.10/24", "fd00:210::10/64"}} {
		netnstest.Run(t, "ip", "link", "add", m.port, "netns", l.sw.Name, "type", "veth", "peer", "name", m.dev, "netns", m.ns.Name)
		l.sw.Run(t, "ip", "link", "set", m.port, "master", "br0", "up")
		m.ns.Run(t, "ip", "addr", "add", m.v4, "dev", m.dev)
		m.ns.Run(t, "ip", "-6", "addr", "add", m.v6, "dev", m.dev, "nodad")
		m.ns.Run(t, "ip", "link", "set", m.dev, "up")
	}
	netnstest.Run(t, "ip", "link", "add", "ha0", "netns", l.a.Name, "type", "veth", "peer", "name", "ha0", "netns", l.peer.Name)
	l.a.Run(t, "ip", "addr", "add", "10.211.0.1/24", "dev", "ha0")
	l.peer.Run(t, "ip", "addr", "add", "10.211.0.2/24", "dev", "ha0")
	l.a.Run(t, "ip", "link", "set", "ha0", "up")
	l.peer.Run(t, "ip", "link", "set", "ha0", "up")
	return l
}

func mac(t *testing.T, ns *netnstest.NS, dev string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(strings.TrimSpace(ns.Run(t, "cat", "/sys/class/net/"+dev+"/address")))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// startWatch runs Watch and returns once it provably sees events: a probe
// entry made with ip(8) shows up, and its deletion too.
func startWatch(t *testing.T, ctx context.Context, src *Source, ns *netnstest.NS, dev string) *netnstest.Recorder {
	t.Helper()
	rec := &netnstest.Recorder{}
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, rec.Emit, rec.Lost) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	probe := Entry{Ifname: dev, Addr: netip.MustParseAddr("10.210.0.99")}
	key := string(AppendKey(nil, &probe))
	seen := func(op channel.Op) bool {
		for _, r := range rec.Records() {
			if string(r.Key) == key && r.Op == op {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !seen(channel.Upsert); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Watch never saw the probe entry")
		}
		ns.Run(t, "ip", "neigh", "replace", "10.210.0.99", "lladdr", "02:00:00:00:00:99", "dev", dev, "nud", "reachable")
	}
	ns.Run(t, "ip", "neigh", "del", "10.210.0.99", "dev", dev)
	for deadline := time.Now().Add(5 * time.Second); !seen(channel.Delete); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Watch emitted no Delete for the deleted probe entry")
		}
	}
	return rec
}

// upserts decodes the recorded upserts by address.
func upserts(t *testing.T, recs []channel.Record) map[netip.Addr]Entry {
	t.Helper()
	out := map[netip.Addr]Entry{}
	for _, r := range recs {
		if r.Op != channel.Upsert {
			continue
		}
		e, err := Decode(r.Key, r.Value)
		if err != nil {
			t.Fatalf("emitted record does not decode: %v", err)
		}
		out[e.Addr] = e
	}
	return out
}

var (
	hostV4 = netip.MustParseAddr("10.210.0.10")
	hostV6 = netip.MustParseAddr("fd00:210::10")
	bV4    = netip.MustParseAddr("10.210.0.2")
	bV6    = netip.MustParseAddr("fd00:210::2")
	vip    = netip.MustParseAddr("10.210.0.254")
	peerV4 = netip.MustParseAddr("10.211.0.2")
)

// TestTakeoverWithoutResolutionSYNC2 is the proof of the channel: the
// active A learns the host H's IPv4 and IPv6 addresses by real traffic;
// the records go Source (A) -> codec -> Sink (B); H then stops answering
// ARP requests and neighbour solicitations, and B still reaches H at once
// with the synced entries, where without them it cannot. Entries of the
// HA link and of B's own address are not synced/installed.
func TestTakeoverWithoutResolutionSYNC2(t *testing.T) {
	needRoot(t)
	l := newLAN(t)
	ctx, cancel := context.WithCancel(context.Background())
	src, err := NewSource(SourceConfig{NetNS: l.a.FD, Interfaces: func(n string) bool { return n != "ha0" }})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, l.a, "lan0")
	t.Cleanup(cancel) // runs before startWatch's cleanup waits for Watch
	for _, ns := range []*netnstest.NS{l.h, l.b, l.peer} {
		udpEcho(t, ns)
	}
	for _, dst := range []string{"10.210.0.10", "fd00:210::10", "10.210.0.2", "10.211.0.2"} {
		if err := reach(t, l.a, dst, 2*time.Second); err != nil {
			t.Fatalf("A cannot reach %s: %v", dst, err)
		}
	}
	var got map[netip.Addr]Entry
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got = upserts(t, rec.Records())
		if _, ok := got[hostV6]; ok && len(got) >= 3 || time.Now().After(deadline) {
			break
		}
	}
	hmac := mac(t, l.h, "eth0")
	for _, a := range []netip.Addr{hostV4, hostV6} {
		if e, ok := got[a]; !ok || e.Ifname != "lan0" || e.LLAddr.String() != hmac.String() {
			t.Fatalf("Watch: entry of %s = %+v (ok %v), want lan0 lladdr %s", a, e, ok, hmac)
		}
	}
	if _, ok := got[peerV4]; ok {
		t.Fatal("an entry of the excluded HA link ha0 was synced")
	}
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inSnap := upserts(t, snap)
	for _, a := range []netip.Addr{hostV4, hostV6, bV4} {
		if _, ok := inSnap[a]; !ok {
			t.Errorf("Snapshot lacks %s: %v", a, inSnap)
		}
	}
	if _, ok := inSnap[peerV4]; ok {
		t.Error("Snapshot holds an entry of the excluded HA link")
	}

	// H stops answering resolutions: only a synced entry reaches it now.
	l.h.NFT(t, `
table arp noresolve {
	chain in {
		type filter hook input priority 0;
		arp operation request drop
	}
}
table ip6 noresolve {
	chain in {
		type filter hook input priority 0;
		icmpv6 type nd-neighbor-solicit drop
	}
}`)
	for _, dst := range []string{"10.210.0.10", "fd00:210::10"} {
		if err := reach(t, l.b, dst, time.Second); err == nil {
			t.Fatalf("B reached %s without a synced entry: the test cannot tell sync from no sync", dst)
		}
	}
	local := map[netip.Addr]bool{bV4: true, bV6: true, vip: true}
	sink, err := NewSink(SinkConfig{NetNS: l.b.FD, IsLocal: func(a netip.Addr) bool { return local[a] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	if err := sink.Apply(ctx, snap); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if st := sink.Stats(); st.SkippedLocal == 0 || st.Installed < 2 {
		t.Fatalf("sink stats %+v: want B's own address skipped and H's entries installed", st)
	}
	out := l.b.Run(t, "ip", "neigh", "show", "dev", "lan0")
	for _, a := range []string{"10.210.0.10", "fd00:210::10"} {
		re := regexp.MustCompile(regexp.QuoteMeta(a) + ` lladdr ` + hmac.String() + ` (STALE|DELAY) proto (0x74|116)`) // DELAY: the kernel sent the control attempt's queued datagram
		if !re.MatchString(out) {
			t.Fatalf("B's table lacks a tagged STALE entry for %s:\n%s", a, out)
		}
	}
	if strings.Contains(out, "10.210.0.2 ") || strings.Contains(out, "PERMANENT") {
		t.Fatalf("B holds an entry for its own address or a permanent one:\n%s", out)
	}
	for _, dst := range []string{"10.210.0.10", "fd00:210::10"} {
		if err := reach(t, l.b, dst, 2*time.Second); err != nil {
			t.Fatalf("B cannot reach %s with the synced entry: %v", dst, err)
		}
	}
}

// TestSourceWatchSYNC2: a new resolution emits an Upsert, a state change
// with the same link-layer address emits nothing, a changed address an
// Upsert, a deletion or failure a Delete; permanent entries are not
// synced.
func TestSourceWatchSYNC2(t *testing.T) {
	needRoot(t)
	a := netnstest.New(t, nsPrefix, "a")
	a.Run(t, "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lanp")
	a.Run(t, "ip", "addr", "add", "10.210.0.1/24", "dev", "lan0")
	a.Run(t, "ip", "link", "set", "lan0", "up")
	a.Run(t, "ip", "link", "set", "lanp", "up")
	ctx, cancel := context.WithCancel(context.Background())
	src, err := NewSource(SourceConfig{NetNS: a.FD})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, a, "lan0")
	t.Cleanup(cancel)
	n0 := len(rec.Records())
	step := func(want int, args ...string) []channel.Record {
		t.Helper()
		a.Run(t, append([]string{"ip", "neigh"}, args...)...)
		a.Run(t, "ip", "neigh", "replace", "10.210.0.98", "lladdr", "02:00:00:00:00:98", "dev", "lan0", "nud", "reachable") // marker
		marker := UpsertRecord(&Entry{Ifname: "lan0", Addr: netip.MustParseAddr("10.210.0.98"), LLAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0x98}})
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			recs := rec.Records()[n0:]
			for i, r := range recs {
				if string(r.Key) == string(marker.Key) {
					got := recs[:i]
					a.Run(t, "ip", "neigh", "del", "10.210.0.98", "dev", "lan0")
					for deadline := time.Now().Add(5 * time.Second); len(rec.Records()) < n0+i+2; time.Sleep(10 * time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatal("no Delete for the marker")
						}
					}
					n0 = len(rec.Records())
					if len(got) != want {
						t.Fatalf("ip neigh %v: %d records, want %d: %+v", args, len(got), want, got)
					}
					return got
				}
			}
		}
		t.Fatal("marker never seen")
		return nil
	}
	r := step(1, "replace", "10.210.0.20", "lladdr", "02:00:00:00:00:20", "dev", "lan0", "nud", "reachable")
	if e, err := Decode(r[0].Key, r[0].Value); err != nil || e.LLAddr.String() != "02:00:00:00:00:20" {
		t.Fatalf("upsert %+v %v", e, err)
	}
	step(0, "change", "10.210.0.20", "dev", "lan0", "nud", "stale")
	r = step(1, "change", "10.210.0.20", "lladdr", "02:00:00:00:00:21", "dev", "lan0", "nud", "delay")
	if e, _ := Decode(r[0].Key, r[0].Value); e.LLAddr.String() != "02:00:00:00:00:21" {
		t.Fatalf("changed lladdr not carried: %+v", e)
	}
	r = step(1, "del", "10.210.0.20", "dev", "lan0")
	if r[0].Op != channel.Delete {
		t.Fatalf("deletion emitted %+v", r[0])
	}
	step(0, "add", "10.210.0.30", "lladdr", "02:00:00:00:00:30", "dev", "lan0", "nud", "permanent")
	step(0, "add", "10.210.0.31", "dev", "lan0", "nud", "incomplete")
}

// TestSinkReplaceSYNC7: the sink never overrides a permanent entry,
// skips unknown interfaces, removes on Replace only what it installed,
// and ignores Deletes of entries it did not install.
func TestSinkReplaceSYNC7(t *testing.T) {
	needRoot(t)
	b := netnstest.New(t, nsPrefix, "b")
	b.Run(t, "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lanp")
	b.Run(t, "ip", "addr", "add", "10.220.0.2/24", "dev", "lan0")
	b.Run(t, "ip", "link", "set", "lan0", "up")
	b.Run(t, "ip", "link", "set", "lanp", "up")
	b.Run(t, "ip", "neigh", "add", "10.220.0.50", "lladdr", "02:00:00:00:00:50", "dev", "lan0", "nud", "permanent")
	b.Run(t, "ip", "neigh", "add", "10.220.0.60", "lladdr", "02:00:00:00:00:60", "dev", "lan0", "nud", "stale")
	ctx := context.Background()
	sink, err := NewSink(SinkConfig{NetNS: b.FD, IsLocal: func(a netip.Addr) bool { return a == netip.MustParseAddr("10.220.0.2") }})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	ent := func(dev, a string, last byte) Entry {
		return Entry{Ifname: dev, Addr: netip.MustParseAddr(a), LLAddr: net.HardwareAddr{2, 0, 0, 0, 0xee, last}}
	}
	x, y, p, own, unk := ent("lan0", "10.220.0.70", 1), ent("lan0", "10.220.0.71", 2), ent("lan0", "10.220.0.50", 3),
		ent("lan0", "10.220.0.2", 4), ent("nosuch0", "10.220.0.72", 5)
	recs := []channel.Record{UpsertRecord(&x), UpsertRecord(&y), UpsertRecord(&p), UpsertRecord(&own), UpsertRecord(&unk)}
	if err := sink.Apply(ctx, recs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	st := sink.Stats()
	if st.Installed != 2 || st.Kept != 1 || st.SkippedLocal != 1 || st.UnknownInterface != 1 || sink.Count() != 2 {
		t.Fatalf("stats %+v count %d: want 2 installed, 1 kept (permanent), 1 local, 1 unknown interface", st, sink.Count())
	}
	show := func() string { return b.Run(t, "ip", "neigh", "show", "dev", "lan0") }
	out := show()
	if !strings.Contains(out, "10.220.0.70 lladdr 02:00:00:00:ee:01 STALE proto") {
		t.Fatalf("the installed entry is not a tagged STALE one:\n%s", out)
	}
	if !strings.Contains(out, "10.220.0.50 lladdr 02:00:00:00:00:50 PERMANENT") {
		t.Fatalf("the permanent entry was changed:\n%s", out)
	}
	if err := sink.Replace(ctx, []channel.Record{UpsertRecord(&x)}); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	out = show()
	for a, want := range map[string]bool{"10.220.0.70 ": true, "10.220.0.71 ": false, "10.220.0.50 ": true, "10.220.0.60 ": true} {
		if strings.Contains(out, a) != want {
			t.Fatalf("after Replace, entry %s present = %v, want %v:\n%s", a, !want, want, out)
		}
	}
	if sink.Count() != 1 || sink.Stats().RemovedByReplace != 1 {
		t.Fatalf("count %d stats %+v, want 1 entry and 1 removed", sink.Count(), sink.Stats())
	}
	learned := ent("lan0", "10.220.0.60", 6)
	if err := sink.Apply(ctx, []channel.Record{DeleteRecord(&learned), DeleteRecord(&x)}); err != nil {
		t.Fatal(err)
	}
	out = show()
	if !strings.Contains(out, "10.220.0.60 ") || strings.Contains(out, "10.220.0.70 ") {
		t.Fatalf("Delete removed an entry the sink did not install, or kept one it did:\n%s", out)
	}
	bad := UpsertRecord(&x)
	bad.Value = bad.Value[:2]
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&y), bad}); err == nil || !strings.Contains(err.Error(), "record 1") {
		t.Fatalf("malformed record: err = %v, want one naming record 1", err)
	}
	if !strings.Contains(show(), "10.220.0.71 ") {
		t.Fatal("the good record next to a malformed one was not installed")
	}
}

var _ channel.Source = (*Source)(nil)
var _ channel.Sink = (*Sink)(nil)
