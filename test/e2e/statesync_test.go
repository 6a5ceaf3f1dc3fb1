package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
	"github.com/tandem-ha/tandem/platforms/lab/transfer"
)

// The lab's stateful sync stream runs on the HA control link, UDP 8735
// (the control link's port plus one).
const syncPort = "8735"

// ctl runs tandemctl against a lab unit and fails the test on error.
func (l *pairLab) ctl(unitName string, args ...string) string {
	l.t.Helper()
	out, err := l.tryCtl(unitName, args...)
	if err != nil {
		l.t.Fatalf("tandemctl %v: %v\n%s", args, err, out)
	}
	return out
}

// tryCtl runs tandemctl against a lab unit and returns its output.
func (l *pairLab) tryCtl(unitName string, args ...string) (string, error) {
	full := append([]string{"-socket", filepath.Join(l.dir, unitName+".sock")}, args...)
	out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput()
	return string(out), err
}

// startSyncPair starts a lab pair (stateful sync is on in the lab
// configuration) and waits until the standby holds a complete bulk sync,
// or, with sync false, turns stateful sync off first.
func startSyncPair(t *testing.T, sync bool) *pairLab {
	l := startPair(t)
	if !sync {
		l.ctl("fw1", "config", "set", "/ha/config/stateful-sync", "false")
		l.ctl("fw1", "config", "commit", "-m", "stateful sync off")
		l.fw2.eventually("the standby has stateful sync off by config sync", 10*time.Second, func() bool {
			return strings.Contains(l.ctl("fw2", "config", "show"), `"stateful-sync": false`)
		})
		return l
	}
	l.fw2.eventually("the standby completes its bulk sync", 15*time.Second, func() bool {
		return strings.Contains(l.ctl("fw2", "state", "/statesync/state/bulk-sync-complete"), "true")
	})
	return l
}

// conntrackCount counts the entries of a unit's connection table that
// match the conntrack(8) filter args.
func conntrackCount(t *testing.T, ns string, args ...string) int {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "conntrack", "-L"}, args...)...).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "flow entries have been shown") {
		t.Fatalf("conntrack -L %v in %s: %v\n%s", args, ns, err, out)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "tcp") || strings.HasPrefix(line, "udp") || strings.HasPrefix(line, "icmp") {
			n++
		}
	}
	return n
}

// longTransfer is a client->server TCP transfer through the pair.
type longTransfer struct {
	sink   transfer.Sink
	conn   net.Conn
	stop   context.CancelFunc
	sent   atomic.Int64
	result chan error
}

func startTransfer(t *testing.T, l *pairLab, addr string) *longTransfer {
	t.Helper()
	var ln net.Listener
	if err := topo.InNetns(l.name+"-server", func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	tr := &longTransfer{result: make(chan error, 1), stop: stop}
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
			tr.sink.Serve(c)
		}
	}()
	c, err := dialFrom(l.name+"-client", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("no connection through the pair: %v", err)
	}
	tr.conn = c
	t.Cleanup(func() { c.Close() })
	server := <-accepted
	if !strings.HasPrefix(server.RemoteAddr().String(), "198.51.100.1:") {
		t.Fatalf("the server sees the client as %s, want the WAN virtual address (SNAT)", server.RemoteAddr())
	}
	go func() {
		n, err := transfer.Send(ctx, c, 4096, time.Millisecond)
		tr.sent.Store(n)
		tr.result <- err
	}()
	return tr
}

// finish ends the transfer cleanly and fails the test unless the session
// lived (no reset, no stall) and the server received every byte sent, in
// order.
func (tr *longTransfer) finish(t *testing.T, l *pairLab) transfer.Result {
	t.Helper()
	tr.stop()
	if err := <-tr.result; err != nil {
		t.Fatalf("the session failed (reset or stalled): %v", err)
	}
	_ = tr.conn.(*net.TCPConn).CloseWrite()
	l.fw2.eventually("the server receives every byte sent", 10*time.Second, func() bool {
		r := tr.sink.Result()
		return r.Err != nil && r.Received == tr.sent.Load()
	})
	r := tr.sink.Result()
	if r.Corrupt || !errors.Is(r.Err, io.EOF) {
		t.Fatalf("transfer ended with corrupt=%v err=%v", r.Corrupt, r.Err)
	}
	return r
}

// killActiveDuring kills fw1 (the active) while tr runs and returns when
// fw2 is active, with the time of the kill.
func killActiveDuring(t *testing.T, l *pairLab) time.Time {
	t.Helper()
	killed := time.Now()
	if out, err := labCtl(t, l.name, l.dir, "kill", "fw1"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	l.fw2.eventually("fw2 takes over", 5*time.Second, func() bool { return l.role("fw2") == "active" })
	return killed
}

// SPEC: SYNC-1
// SPEC: TKO-1
// A continuous, checksummed TCP transfer client->server through the pair,
// source-NATed to the WAN virtual address, survives kill -9 of the active
// (tandemd, plugins and every port): every byte arrives in order after
// the takeover, nothing is lost, the session is never reset. The new
// active's policy accepts only established flows with tcp_loose=0, so
// the session survives only because its entry, NAT binding included, was
// synced and installed before the addresses moved.
func TestSessionSurvivesFailoverWithStatefulSync(t *testing.T) {
	l := startSyncPair(t, true)
	tr := startTransfer(t, l, "198.51.100.10:5101")
	l.fw2.eventually("the session is installed in the standby's table", 5*time.Second, func() bool {
		return conntrackCount(t, l.fw2.ns, "-p", "tcp", "--dport", "5101", "--state", "ESTABLISHED") == 1
	})
	time.Sleep(time.Second)
	before := tr.sink.Result().Received
	killed := killActiveDuring(t, l)
	time.Sleep(3 * time.Second)
	mid := tr.sink.Result()
	if !mid.Last.After(killed) || mid.Received <= before {
		t.Fatalf("nothing arrived after the kill: %d bytes before, %d now, last at %s (kill at %s)",
			before, mid.Received, mid.Last.Format(time.StampMilli), killed.Format(time.StampMilli))
	}
	r := tr.finish(t, l)
	t.Logf("%.1f MB in order, %d bytes after the kill, longest silence %s, 0 bytes lost",
		float64(r.Received)/1e6, r.Received-before, r.Longest.Round(time.Millisecond))
}

// SPEC: SYNC-1
// The same transfer without stateful sync does not survive: the new
// active's table does not know the session, its policy drops it
// mid-flow, and not one byte arrives after the takeover.
func TestSessionBreaksWithoutStatefulSync(t *testing.T) {
	l := startSyncPair(t, false)
	tr := startTransfer(t, l, "198.51.100.10:5102")
	time.Sleep(time.Second)
	if n := conntrackCount(t, l.fw2.ns, "-p", "tcp", "--dport", "5102"); n != 0 {
		t.Fatalf("with stateful sync off the standby holds %d entries of the session", n)
	}
	killed := killActiveDuring(t, l)
	time.Sleep(3 * time.Second)
	r := tr.sink.Result()
	if r.Last.After(killed.Add(500 * time.Millisecond)) {
		t.Fatalf("bytes arrived %s after the kill without stateful sync: the policy should have dropped the session",
			r.Last.Sub(killed).Round(time.Millisecond))
	}
	t.Logf("as expected, the session stalled: its last bytes arrived %s after the kill (in flight), none after the takeover",
		r.Last.Sub(killed).Round(time.Millisecond))
}

// SPEC: SYNC-1
// SPEC: SYNC-7
// 5,000 concurrent established TCP connections survive a failover: each
// makes a round trip before the kill and another after it.
func TestManyConnectionsSurviveFailover(t *testing.T) {
	const conns = 5000
	raiseFileLimit(t, 3*conns)
	l := startSyncPair(t, true)
	echoServer(t, l.name+"-server", "198.51.100.10:5103")
	clients := make([]net.Conn, 0, conns)
	t.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
	})
	if err := topo.InNetns(l.name+"-client", func() error {
		for i := 0; i < conns; i++ {
			c, err := net.DialTimeout("tcp", "198.51.100.10:5103", 5*time.Second)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			clients = append(clients, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ok := roundTrips(clients, "before"); ok != conns {
		t.Fatalf("%d of %d connections work before the failover", ok, conns)
	}
	l.fw2.eventually("the standby holds every connection", 20*time.Second, func() bool {
		return conntrackCount(t, l.fw2.ns, "-p", "tcp", "--dport", "5103", "--state", "ESTABLISHED") >= conns
	})
	killActiveDuring(t, l)
	ok := roundTrips(clients, "after")
	t.Logf("%d of %d connections work after the failover", ok, conns)
	if ok*1000 < conns*999 {
		t.Fatalf("only %d of %d connections survived the failover; want at least 99.9%%", ok, conns)
	}
}

// roundTrips makes one echo round trip on every connection, 200 at a
// time, and counts the ones that worked.
func roundTrips(conns []net.Conn, word string) int {
	var ok atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 200)
	for i, c := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if roundTrip(c, word+strconv.Itoa(i), 10*time.Second) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = max(n, lim.Cur)
	lim.Max = max(lim.Max, lim.Cur)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot raise the open file limit to %d: %v", n, err)
	}
}

// SPEC: SYNC-7
// SPEC: OBS-1
// SPEC: OBS-2
// A unit that comes back (rebooted after a power loss) rejoins as
// standby and receives a full bulk sync before increments: the event log
// records the bulk sync, and the sessions the active holds appear in
// the rejoined unit's table.
func TestRejoinedUnitGetsABulkSync(t *testing.T) {
	l := startSyncPair(t, true)
	tr := startTransfer(t, l, "198.51.100.10:5104")
	killActiveDuring(t, l)
	if out, err := labCtl(t, l.name, l.dir, "boot", "fw1"); err != nil {
		t.Fatalf("boot: %v\n%s", err, out)
	}
	l.fw1.eventually("fw1 rejoins as standby", 15*time.Second, func() bool { return l.role("fw1") == "standby" })
	l.fw1.eventually("fw1 completes a bulk sync", 15*time.Second, func() bool {
		return strings.Contains(l.ctl("fw1", "state", "/statesync/state/bulk-sync-complete"), "true")
	})
	l.fw1.eventually("the rejoined unit holds the running session", 5*time.Second, func() bool {
		return conntrackCount(t, l.fw1.ns, "-p", "tcp", "--dport", "5104", "--state", "ESTABLISHED") == 1
	})
	if st := l.ctl("fw1", "ha", "status"); !strings.Contains(st, "stateful sync: bulk sync complete") {
		t.Errorf("ha status of the rejoined unit lacks its sync state (OBS-1):\n%s", st)
	}
	if ev := l.ctl("fw1", "events"); !strings.Contains(ev, "bulk-sync-received-end") {
		t.Errorf("fw1's event log lacks bulk-sync-received-end:\n%s", ev)
	}
	if ev := l.ctl("fw2", "events"); !strings.Contains(ev, "bulk-sync-sent-start") {
		t.Errorf("fw2's event log lacks bulk-sync-sent-start:\n%s", ev)
	}
	if tr.sink.Result().Err != nil {
		t.Errorf("the transfer broke: %v", tr.sink.Result().Err)
	}
}

// SPEC: SYNC-7
// A range of sync datagrams dropped on the wire (an nftables rule on the
// standby's HA link) is recovered: the connections opened meanwhile
// reach the standby's table once the rule is gone, and the losses are
// counted, never silent.
func TestDroppedSyncDatagramsAreRecovered(t *testing.T) {
	l := startSyncPair(t, true)
	echoServer(t, l.name+"-server", "198.51.100.10:5105")
	run(t, "ip", "netns", "exec", l.fw2.ns, "nft", "add table inet e2edrop")
	run(t, "ip", "netns", "exec", l.fw2.ns, "nft", "add chain inet e2edrop in { type filter hook input priority -10 ; }")
	run(t, "ip", "netns", "exec", l.fw2.ns, "nft", "add rule inet e2edrop in udp dport "+syncPort+" counter drop")
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < 20; i++ {
		c, err := dialFrom(l.name+"-client", "198.51.100.10:5105", 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(300 * time.Millisecond)
	out, _ := exec.Command("ip", "netns", "exec", l.fw2.ns, "nft", "list", "table", "inet", "e2edrop").CombinedOutput()
	if strings.Contains(string(out), "packets 0 ") {
		t.Fatalf("the drop rule dropped nothing:\n%s", out)
	}
	if n := conntrackCount(t, l.fw2.ns, "-p", "tcp", "--dport", "5105"); n == len(conns) {
		t.Fatalf("the standby has all %d connections although their datagrams were dropped", n)
	}
	run(t, "ip", "netns", "exec", l.fw2.ns, "nft", "delete table inet e2edrop")
	l.fw2.eventually("the dropped range is recovered", 15*time.Second, func() bool {
		return conntrackCount(t, l.fw2.ns, "-p", "tcp", "--dport", "5105", "--state", "ESTABLISHED") == len(conns)
	})
	status := l.ctl("fw1", "sync", "status")
	if !strings.Contains(status, "connections") {
		t.Errorf("tandemctl sync status lacks the connections channel:\n%s", status)
	}
	t.Logf("the active after the loss:\n%s", status)
}

// SPEC: SYNC-6
// A per-rule exclusion (tcp to port 5107) marks its connections on the
// active, and the standby never receives them, while other connections
// are synced.
func TestExcludedConnectionsAreNotSynced(t *testing.T) {
	l := startSyncPair(t, true)
	l.ctl("fw1", "config", "set", "/statesync/exclusions/exclusion[name=bulk-backup]/config/protocol", "tcp")
	l.ctl("fw1", "config", "set", "/statesync/exclusions/exclusion[name=bulk-backup]/config/destination-port", "5107")
	l.ctl("fw1", "config", "commit", "-m", "do not sync the backup stream")
	l.fw1.eventually("the active marks excluded connections", 10*time.Second, func() bool {
		out, _ := exec.Command("ip", "netns", "exec", l.fw1.ns, "nft", "list", "chain", "inet", "tandem", "syncmark").CombinedOutput()
		return strings.Contains(string(out), "tcp dport 5107")
	})
	echoServer(t, l.name+"-server", "198.51.100.10:5107")
	echoServer(t, l.name+"-server", "198.51.100.10:5108")
	for _, addr := range []string{"198.51.100.10:5107", "198.51.100.10:5108"} {
		c, err := dialFrom(l.name+"-client", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := roundTrip(c, "x", 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	l.fw2.eventually("the standby holds the synced connection", 5*time.Second, func() bool {
		return conntrackCount(t, l.fw2.ns, "-p", "tcp", "--dport", "5108") == 1
	})
	if n := conntrackCount(t, l.fw1.ns, "-p", "tcp", "--dport", "5107", "--mark", "16777216/16777216"); n != 1 {
		t.Fatalf("the active holds %d marked entries for the excluded connection, want 1", n)
	}
	if n := conntrackCount(t, l.fw2.ns, "-p", "tcp", "--dport", "5107"); n != 0 {
		t.Fatalf("the standby holds %d entries of the excluded connection", n)
	}
}
