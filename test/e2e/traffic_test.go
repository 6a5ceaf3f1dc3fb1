package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// echoServer listens in namespace ns and echoes every line back.
func echoServer(t *testing.T, ns, addr string) {
	t.Helper()
	var ln net.Listener
	if err := topo.InNetns(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen in %s: %v", ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Plain reads and writes: io.Copy between TCP sockets would
			// splice through a pipe, two more descriptors per connection.
			go func() {
				defer c.Close()
				_, _ = io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
			}()
		}
	}()
}

// dialFrom opens a TCP connection from namespace ns.
func dialFrom(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := topo.InNetns(ns, func() (err error) { c, err = net.DialTimeout("tcp", addr, timeout); return err })
	return c, err
}

// roundTrip sends a line and reads it back within timeout.
func roundTrip(c net.Conn, line string, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(c, line); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(got) != line {
		return fmt.Errorf("echo %q, want %q", got, line)
	}
	return nil
}

// SPEC: TKO-1
// SPEC: TKO-3
// SPEC: SYNC-1
// Traffic crosses the pair through the active's stateful policy. After a
// kill -9 of the active, new connections cross the new active at once:
// its gratuitous ARP moved the client's and the server's neighbour
// entries. Without stateful sync (turned off here) the established session does
// not survive: the new active's connection table does not know it and
// nf_conntrack_tcp_loose=0 refuses to pick it up mid-flow.
func TestTrafficCrossesThePairAndFailsOver(t *testing.T) {
	l := startSyncPair(t, false)
	l.fw1.eventually("fw1 holds the virtual addresses", 5*time.Second, func() bool {
		return l.fw1.hasAddr("x0", "192.0.2.1/24") && l.fw1.hasAddr("x1", "198.51.100.1/24")
	})
	echoServer(t, l.name+"-server", "198.51.100.10:7000")
	var session net.Conn
	l.fw1.eventually("a connection crosses fw1", 10*time.Second, func() bool {
		c, err := dialFrom(l.name+"-client", "198.51.100.10:7000", time.Second)
		if err != nil {
			return false
		}
		if roundTrip(c, "before", time.Second) != nil {
			c.Close()
			return false
		}
		session = c
		return true
	})
	defer session.Close()

	killed := time.Now()
	if out, err := labCtl(t, l.name, l.dir, "kill", "fw1"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	var reconnected time.Duration
	l.fw2.eventually("a new connection crosses fw2", 10*time.Second, func() bool {
		c, err := dialFrom(l.name+"-client", "198.51.100.10:7000", 300*time.Millisecond)
		if err != nil {
			return false
		}
		defer c.Close()
		if roundTrip(c, "after", 300*time.Millisecond) != nil {
			return false
		}
		reconnected = time.Since(killed)
		return true
	})
	t.Logf("new connections cross the pair again %s after kill -9 of the active (100 ms x 3 heartbeats)", reconnected.Round(time.Millisecond))
	if err := roundTrip(session, "during", 2*time.Second); err == nil {
		t.Errorf("an established session survived failover with stateful sync off; it cannot have been synced")
	}
}

// neighMAC returns the MAC the namespace's neighbour table holds for ip.
func neighMAC(t *testing.T, ns, ip string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "neigh", "show", ip).Output()
	if err != nil {
		t.Fatalf("ip neigh: %v", err)
	}
	f := strings.Fields(string(out))
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// SPEC: TKO-2
// With virtual MAC on, the gateway address answers with the pair's virtual
// MAC, and after a kill -9 of the active the client's neighbour entry
// still holds that same MAC while traffic crosses the new active.
func TestVirtualMACSurvivesFailover(t *testing.T) {
	l := startPair(t)
	ctl := func(args ...string) {
		full := append([]string{"-socket", filepath.Join(l.dir, "fw1.sock"), "config"}, args...)
		if out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput(); err != nil {
			t.Fatalf("tandemctl %v: %v\n%s", args, err, out)
		}
	}
	ctl("set", "/ha/config/virtual-mac", "true")
	ctl("commit", "-m", "virtual MAC")
	l.fw2.eventually("the standby has the virtual MAC setting by config sync", 10*time.Second, func() bool {
		out, _ := exec.Command(filepath.Join(bin, "tandemctl"), "-socket", filepath.Join(l.dir, "fw2.sock"), "config", "show").Output()
		return strings.Contains(string(out), `"virtual-mac": true`)
	})
	l.fw1.eventually("fw1 carries the LAN virtual address on its virtual MAC child", 10*time.Second, func() bool {
		return l.fw1.hasAddr("x0v", "192.0.2.1/24") && !l.fw1.hasAddr("x0", "192.0.2.1/24")
	})
	echoServer(t, l.name+"-server", "198.51.100.10:7001")
	l.fw1.eventually("traffic crosses fw1", 10*time.Second, func() bool {
		c, err := dialFrom(l.name+"-client", "198.51.100.10:7001", time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		return roundTrip(c, "hello", time.Second) == nil
	})
	vmac := neighMAC(t, l.name+"-client", "192.0.2.1")
	out, _ := exec.Command("ip", "-n", l.fw1.ns, "-br", "link", "show", "x0v").Output()
	if vmac == "" || !strings.Contains(string(out), vmac) {
		t.Fatalf("client resolved the gateway to %q; fw1's child: %s", vmac, out)
	}
	if out, err := labCtl(t, l.name, l.dir, "kill", "fw1"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	l.fw2.eventually("traffic crosses fw2", 10*time.Second, func() bool {
		c, err := dialFrom(l.name+"-client", "198.51.100.10:7001", 300*time.Millisecond)
		if err != nil {
			return false
		}
		defer c.Close()
		return roundTrip(c, "again", 300*time.Millisecond) == nil
	})
	if got := neighMAC(t, l.name+"-client", "192.0.2.1"); got != vmac {
		t.Errorf("the client's gateway MAC changed from %s to %s across the failover", vmac, got)
	}
	if out, _ := exec.Command("ip", "-n", l.fw2.ns, "-br", "link", "show", "x0v").Output(); !strings.Contains(string(out), vmac) {
		t.Errorf("fw2's child does not carry the virtual MAC %s: %s", vmac, out)
	}
}
