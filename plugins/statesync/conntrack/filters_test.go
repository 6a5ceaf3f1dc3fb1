package conntrack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// watchedFirewall is a one-firewall topology whose firewall runs a Source
// configured by cfg (NetNS and IsLocal are filled in).
func watchedFirewall(t *testing.T, cfg SourceConfig) (*topology, *Source, *netnstest.Recorder, *LocalAddrs) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tp := newTopology(t, 1)
	fw := tp.fws[0]
	local, err := NewLocalAddrs(ctx, fw.FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NetNS, cfg.IsLocal = fw.FD, local.Contains
	src, err := NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, fw)
	t.Cleanup(cancel)
	return tp, src, rec, local
}

// dialFrom opens a TCP connection from namespace from to addr served in
// namespace to; it returns the client's port.
func dialFrom(t *testing.T, from, to *netnstest.NS, addr string) uint16 {
	t.Helper()
	var ln net.Listener
	var c net.Conn
	var err error
	to.Do(t, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if s, err := ln.Accept(); err == nil {
			t.Cleanup(func() { s.Close() })
		}
	}()
	from.Do(t, func() { c, err = net.DialTimeout("tcp", addr, 3*time.Second) })
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return uint16(c.LocalAddr().(*net.TCPAddr).Port)
}

// tcpRecorded reports whether any record of a TCP flow to dport was emitted.
func tcpRecorded(t *testing.T, rec *netnstest.Recorder, dport uint16) bool {
	ups, dels := flows(t, rec, ProtoTCP)
	for _, f := range ups {
		if f.Orig.DstPort == dport {
			return true
		}
	}
	for _, d := range dels {
		if d.DstPort == dport {
			return true
		}
	}
	return false
}

// TestLocalConnectionsNotSyncedSYNC3: connections to and from the
// firewall itself are never synced, including to an address added while
// the source runs; forwarded (SNAT'd) ones are.
func TestLocalConnectionsNotSyncedSYNC3(t *testing.T) {
	needRoot(t)
	tp, src, rec, local := watchedFirewall(t, SourceConfig{})
	fw := tp.fws[0]

	dialFrom(t, tp.cli, fw, "10.201.1.254:7200") // to the firewall
	dialFrom(t, fw, tp.srv, serverAddr+":7201")  // from the firewall
	fw.Run(t, "ip", "addr", "add", "10.201.1.200/24", "dev", "in")
	for deadline := time.Now().Add(3 * time.Second); !local.Contains(netip.MustParseAddr("10.201.1.200")); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("LocalAddrs did not learn the new address")
		}
	}
	dialFrom(t, tp.cli, fw, "10.201.1.200:7203") // to the new address
	cport := dialFrom(t, tp.cli, tp.srv, serverAddr+":7202")
	// The forwarded connection is synced; events arrive in order, so the
	// local ones would have been recorded before it.
	waitRecord(t, rec, ProtoTCP, func(f Flow) bool { return f.Orig.SrcPort == cport && f.Orig.DstPort == 7202 })
	for _, port := range []uint16{7200, 7201, 7203} {
		if tcpRecorded(t, rec, port) {
			t.Errorf("local connection to port %d was synced", port)
		}
	}
	if src.Stats().SkippedLocal == 0 {
		t.Error("SkippedLocal counter stayed 0")
	}
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range snap {
		f, _ := Decode(r.Key, r.Value)
		if f.Orig.Proto == ProtoTCP && f.Orig.DstPort != 7202 {
			t.Errorf("snapshot holds a local connection: %s", &f)
		}
	}
	fw.Run(t, "ip", "addr", "del", "10.201.1.200/24", "dev", "in")
	for deadline := time.Now().Add(3 * time.Second); local.Contains(netip.MustParseAddr("10.201.1.200")); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("LocalAddrs did not forget the removed address")
		}
	}
}

// TestMarkExclusionSYNC6: flows whose conntrack mark matches the excluded
// mark/mask (set by the platform's nftables rules) are not synced, and a
// flow that gets the mark later is removed from the standby.
func TestMarkExclusionSYNC6(t *testing.T) {
	needRoot(t)
	tp, src, rec, _ := watchedFirewall(t, SourceConfig{ExcludeMark: 0x100, ExcludeMask: 0xf00})
	fw := tp.fws[0]
	fw.Run(t, "nft", "insert", "rule", "inet", "filter", "forward", "tcp", "dport", "7301", "ct", "mark", "set", "0x1100")

	dialFrom(t, tp.cli, tp.srv, serverAddr+":7301")
	cli, srv := dialThrough(t, tp, 7300)
	cport := uint16(cli.LocalAddr().(*net.TCPAddr).Port)
	f := waitRecord(t, rec, ProtoTCP, func(f Flow) bool { return f.Orig.SrcPort == cport && f.Orig.DstPort == 7300 })
	if tcpRecorded(t, rec, 7301) {
		t.Error("the flow marked 0x1100 (mask 0xf00 -> 0x100) was synced")
	}
	if src.Stats().SkippedMark == 0 {
		t.Error("SkippedMark counter stayed 0")
	}
	// A rule that marks the synced flow later withdraws it from the
	// standby (the mark change is an UPDATE event).
	fw.Run(t, "nft", "insert", "rule", "inet", "filter", "forward", "tcp", "dport", "7300", "ct", "mark", "set", "0x100")
	if err := transfer(cli, srv, 100, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	waitDelete(t, rec, f.Orig)
}

// TestMinimumAgeSYNC5: a new connection is synced only once it has lived
// MinAge; one that ends before is never synced.
func TestMinimumAgeSYNC5(t *testing.T) {
	needRoot(t)
	const minAge = 1500 * time.Millisecond
	tp, src, rec, _ := watchedFirewall(t, SourceConfig{MinAge: minAge})
	fw := tp.fws[0]

	// short-lived: a DNS-like exchange that ends at once
	short := udpExchange(t, tp, 5301)
	fw.Run(t, "conntrack", "-D", "-p", "udp", "--orig-port-src", fmt.Sprint(short))
	// long-lived
	started := time.Now()
	long := udpExchange(t, tp, 5302)
	if snap, err := src.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	} else {
		for _, r := range snap {
			if f, _ := Decode(r.Key, r.Value); f.Orig.Proto == ProtoUDP && f.Orig.SrcPort == long {
				t.Error("a snapshot holds a connection younger than MinAge")
			}
		}
	}
	f := waitRecord(t, rec, ProtoUDP, func(f Flow) bool { return f.Orig.SrcPort == long })
	r := UpsertRecord(&f)
	if at := rec.FirstAt(r.Key); at.Sub(started) < minAge {
		t.Errorf("synced after %s, before the minimum age %s", at.Sub(started), minAge)
	}
	if f.Status&StatusSeenReply == 0 {
		t.Error("the delayed record lacks the state reached meanwhile (SEEN_REPLY)")
	}
	if f.Timeout > 30-1 {
		t.Errorf("delayed record carries timeout %d: not aged by the delay", f.Timeout)
	}
	ups, dels := flows(t, rec, ProtoUDP)
	for _, u := range ups {
		if u.Orig.SrcPort == short {
			t.Error("the short-lived connection was synced")
		}
	}
	for _, d := range dels {
		if d.SrcPort == short {
			t.Error("a delete was sent for the never-synced short connection")
		}
	}
	if src.Stats().YoungDropped == 0 {
		t.Error("YoungDropped counter stayed 0")
	}
}
