package probe

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// testConfig probes fast: a port turns unreachable after two lost
// probes, 100 ms apart.
var testConfig = Config{Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, LossThreshold: 2}

// pair creates the namespaces tdm-probe-<pid>-<tag>-unit and
// tdm-probe-<pid>-<tag>-target joined by a veth pair (veth0 in the unit,
// veth1 in the target), both up, with the given addresses. They are
// deleted when the test ends.
func pair(t *testing.T, tag string, unitAddrs, targetAddrs []string) (unit, target string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and raw sockets")
	}
	unit = fmt.Sprintf("tdm-probe-%d-%s-unit", os.Getpid(), tag)
	target = fmt.Sprintf("tdm-probe-%d-%s-target", os.Getpid(), tag)
	for _, name := range []string{unit, target} {
		_ = exec.Command("ip", "netns", "del", name).Run() // leftover of a killed run
		run(t, "ip", "netns", "add", name)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", name, err, out)
			}
		})
		run(t, "ip", "-n", name, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", unit, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", target)
	for _, a := range unitAddrs {
		addAddr(t, unit, "veth0", a)
	}
	for _, a := range targetAddrs {
		addAddr(t, target, "veth1", a)
	}
	run(t, "ip", "-n", unit, "link", "set", "veth0", "up")
	run(t, "ip", "-n", target, "link", "set", "veth1", "up")
	return unit, target
}

// addAddr puts a on dev in namespace ns, without duplicate address
// detection for IPv6 so that it is usable at once.
func addAddr(t *testing.T, ns, dev, a string) {
	t.Helper()
	args := []string{"-n", ns, "addr", "add", a, "dev", dev}
	if strings.Contains(a, ":") {
		args = append(args, "nodad")
	}
	run(t, "ip", args...)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// nft loads ruleset into namespace ns.
func nft(t *testing.T, ns, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v\n%s\n%s", ns, err, ruleset, out)
	}
}

// dropEcho makes namespace ns drop the echo requests that match (an nft
// match expression); allowEcho removes the rule again.
func dropEcho(t *testing.T, ns, match string) {
	t.Helper()
	nft(t, ns, "table inet tdmprobe {\n chain in {\n  type filter hook input priority 0; policy accept;\n  "+match+" drop\n }\n}\n")
}

func allowEcho(t *testing.T, ns string) {
	t.Helper()
	nft(t, ns, "delete table inet tdmprobe\n")
}

func quietLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// start runs p inside namespace ns until the test ends.
func start(t *testing.T, ns string, p *Prober) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- topo.InNetns(ns, func() error { p.Run(ctx); return nil }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("prober in %s: %v", ns, err)
		}
	})
}

// waitFor reads p's results until they equal want and returns how long
// that took.
func waitFor(t *testing.T, p *Prober, want map[string]bool, within time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	timeout := time.After(within)
	var last map[string]bool
	for {
		select {
		case m := <-p.Results():
			last = m
			if fmt.Sprint(m) == fmt.Sprint(want) {
				return time.Since(begin)
			}
		case <-timeout:
			t.Fatalf("results after %s: %v, want %v", within, last, want)
		}
	}
}

// expectNoChange fails if p reports anything other than want during d.
func expectNoChange(t *testing.T, p *Prober, want map[string]bool, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-p.Results():
			if fmt.Sprint(m) != fmt.Sprint(want) {
				t.Fatalf("results changed to %v, want %v", m, want)
			}
		case <-timeout:
			return
		}
	}
}

func target4(port, src, dst string) Target {
	return Target{Port: port, Source: netip.MustParseAddr(src), Destination: netip.MustParseAddr(dst)}
}

// SPEC: DET-4
func TestProbeDetectsLossAndRecovery(t *testing.T) {
	unit, target := pair(t, "loss", []string{"192.0.2.2/24"}, []string{"192.0.2.254/24"})
	p := New(Config{Interval: testConfig.Interval, Timeout: testConfig.Timeout, LossThreshold: 2, Logger: quietLogger(t)})
	p.SetTargets([]Target{target4("X0", "192.0.2.2", "192.0.2.254")})
	start(t, unit, p)
	waitFor(t, p, map[string]bool{"X0": true}, 3*time.Second)

	dropEcho(t, target, "icmp type echo-request")
	took := waitFor(t, p, map[string]bool{"X0": false}, 3*time.Second)
	// Two lost probes, one interval apart, each waiting its timeout.
	if took < testConfig.Interval {
		t.Errorf("unreachable after %s: a single lost probe must not count (threshold 2)", took)
	}
	t.Logf("unreachable %s after the target stopped answering", took)
	allowEcho(t, target)
	waitFor(t, p, map[string]bool{"X0": true}, 3*time.Second)

	run(t, "ip", "-n", target, "link", "set", "veth1", "down")
	waitFor(t, p, map[string]bool{"X0": false}, 3*time.Second)
	run(t, "ip", "-n", target, "link", "set", "veth1", "up")
	waitFor(t, p, map[string]bool{"X0": true}, 5*time.Second)

	// SetTargets replaces the set: X0 goes, X1 comes.
	p.SetTargets([]Target{target4("X1", "192.0.2.2", "192.0.2.254")})
	waitFor(t, p, map[string]bool{"X1": true}, 3*time.Second)
	p.SetTargets(nil)
	waitFor(t, p, map[string]bool{}, 3*time.Second)
}

// capture records the sources of the prober's echo requests that reach
// namespace ns, from a raw ICMP socket opened there.
type capture struct {
	mu      sync.Mutex
	sources map[netip.Addr]int
}

func startCapture(t *testing.T, ns string, v6 bool) *capture {
	t.Helper()
	network, addr, proto, want := "ip4:icmp", "0.0.0.0", protoICMP, icmp.Type(ipv4.ICMPTypeEcho)
	if v6 {
		network, addr, proto, want = "ip6:ipv6-icmp", "::", protoICMPv6, ipv6.ICMPTypeEchoRequest
	}
	var conn *icmp.PacketConn
	if err := topo.InNetns(ns, func() (err error) {
		conn, err = icmp.ListenPacket(network, addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c := &capture{sources: map[netip.Addr]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != want {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); !ok || string(e.Data) != string(payload) {
				continue
			}
			src, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
			c.mu.Lock()
			c.sources[src.Unmap()]++
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return c
}

func (c *capture) snapshot() map[netip.Addr]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[netip.Addr]int{}
	for k, v := range c.sources {
		out[k] = v
	}
	return out
}

// The echo leaves from the monitoring address, not from the address the
// kernel would pick (the port's primary 192.0.2.2).
//
// SPEC: MON-2
func TestProbeLeavesFromMonitoringAddress(t *testing.T) {
	unit, target := pair(t, "src", []string{"192.0.2.2/24", "192.0.2.3/24"}, []string{"192.0.2.254/24"})
	c := startCapture(t, target, false)
	p := New(Config{Interval: testConfig.Interval, Timeout: testConfig.Timeout, LossThreshold: 2, Logger: quietLogger(t)})
	p.SetTargets([]Target{target4("X0", "192.0.2.3", "192.0.2.254")})
	start(t, unit, p)
	waitFor(t, p, map[string]bool{"X0": true}, 3*time.Second)
	time.Sleep(3 * testConfig.Interval)
	got := c.snapshot()
	mon := netip.MustParseAddr("192.0.2.3")
	if len(got) != 1 || got[mon] < 2 {
		t.Fatalf("echo requests seen by the target, by source: %v; want only %s", got, mon)
	}
}

// A monitoring address the platform has not applied yet: no crash, no
// spin, unreachable, and reachable once the address is there (the socket
// was bound with IP_FREEBIND).
//
// SPEC: DET-4
func TestProbeSourceNotYetPresent(t *testing.T) {
	unit, _ := pair(t, "late", []string{"192.0.2.2/24"}, []string{"192.0.2.254/24"})
	p := New(Config{Interval: testConfig.Interval, Timeout: testConfig.Timeout, LossThreshold: 2, Logger: quietLogger(t)})
	p.SetTargets([]Target{target4("X0", "192.0.2.9", "192.0.2.254")})
	start(t, unit, p)
	waitFor(t, p, map[string]bool{"X0": false}, 3*time.Second)
	expectNoChange(t, p, map[string]bool{"X0": false}, 5*testConfig.Interval)
	addAddr(t, unit, "veth0", "192.0.2.9/24")
	waitFor(t, p, map[string]bool{"X0": true}, 3*time.Second)
}

// Two probers share the source and the destination; the target answers
// only one. The other sees those replies on its socket (same addresses,
// same sequence numbers) and must not take them for its own.
//
// SPEC: DET-4
func TestProbeIgnoresForeignReplies(t *testing.T) {
	unit, target := pair(t, "foreign", []string{"192.0.2.2/24"}, []string{"192.0.2.254/24"})
	cfg := Config{Interval: testConfig.Interval, Timeout: testConfig.Timeout, LossThreshold: 2, Logger: quietLogger(t)}
	a, b := New(cfg), New(cfg)
	b.id = a.id%0xfffe + 1 // distinct, never 0
	dropEcho(t, target, fmt.Sprintf("icmp type echo-request icmp id %d", b.id))
	for _, p := range []*Prober{a, b} {
		p.SetTargets([]Target{target4("X0", "192.0.2.2", "192.0.2.254")})
		start(t, unit, p)
	}
	waitFor(t, a, map[string]bool{"X0": true}, 3*time.Second)
	waitFor(t, b, map[string]bool{"X0": false}, 3*time.Second)
	expectNoChange(t, b, map[string]bool{"X0": false}, 5*testConfig.Interval)
}

// IPv6 probes leave from each port's monitoring address, and a port with
// both families stays reachable while one of them answers.
//
// SPEC: DET-4
func TestProbeIPv6(t *testing.T) {
	unit, target := pair(t, "v6",
		[]string{"192.0.2.2/24", "2001:db8::2/64", "2001:db8::3/64"},
		[]string{"192.0.2.254/24", "2001:db8::fe/64"})
	p := New(Config{Interval: testConfig.Interval, Timeout: testConfig.Timeout, LossThreshold: 2, Logger: quietLogger(t)})
	p.SetTargets([]Target{
		target4("X0", "2001:db8::3", "2001:db8::fe"),
		target4("X1", "192.0.2.2", "192.0.2.254"),
		target4("X1", "2001:db8::2", "2001:db8::fe"),
	})
	c := startCapture(t, target, true)
	start(t, unit, p)
	waitFor(t, p, map[string]bool{"X0": true, "X1": true}, 3*time.Second)
	time.Sleep(3 * testConfig.Interval)
	got := c.snapshot()
	x0, x1 := netip.MustParseAddr("2001:db8::3"), netip.MustParseAddr("2001:db8::2")
	if len(got) != 2 || got[x0] < 2 || got[x1] < 2 {
		t.Fatalf("IPv6 echo requests seen by the target, by source: %v; want %s (X0) and %s (X1)", got, x0, x1)
	}
	dropEcho(t, target, "icmpv6 type echo-request")
	waitFor(t, p, map[string]bool{"X0": false, "X1": true}, 3*time.Second)
	expectNoChange(t, p, map[string]bool{"X0": false, "X1": true}, 5*testConfig.Interval)
	allowEcho(t, target)
	waitFor(t, p, map[string]bool{"X0": true, "X1": true}, 3*time.Second)
}
