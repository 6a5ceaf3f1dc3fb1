package hostfw

import (
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// SPEC: SYNC-6
// New connections matched by an exclusion carry the no-sync mark in
// their conntrack entry, read back with conntrack(8) on real traffic;
// an entry with sync true exempts its connections; the rules converge
// and are listed as nft(8) shows them.
func TestSyncExclusionsMarkConnections(t *testing.T) {
	c, fw := conn(t)
	peer := fw + "-c"
	for _, args := range [][]string{
		{"netns", "add", peer},
		{"link", "add", "hfw-a", "netns", fw, "type", "veth", "peer", "name", "hfw-b", "netns", peer},
		{"-n", fw, "addr", "add", "192.0.2.1/24", "dev", "hfw-a"},
		{"-n", fw, "link", "set", "hfw-a", "up"},
		{"-n", peer, "addr", "add", "192.0.2.10/24", "dev", "hfw-b"},
		{"-n", peer, "link", "set", "hfw-b", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", peer).Run() })
	const mark = 0x1000000
	spec := &sdk.FirewallSpec{NoSyncMark: mark, SyncExclusions: []*sdk.SyncExclusion{
		{Name: "bulk-backup", Protocol: "tcp", DestinationPort: 5106},
		{Name: "lab-net", DestinationPrefix: "192.0.2.0/25", Protocol: "udp"},
		{Name: "keep-admin", Sync: true, SourcePrefix: "192.0.2.10/32", Protocol: "udp", DestinationPort: 5107},
	}}
	if n, err := Apply(c, spec); err != nil || n != 1 {
		t.Fatalf("Apply = %d, %v", n, err)
	}
	if n, err := Apply(c, spec); err != nil || n != 0 {
		t.Fatalf("second Apply = %d, %v; want 0 changes", n, err)
	}
	rules := listed(t, fw)
	for _, want := range []string{"hook prerouting priority mangle", "tcp dport 5106 ct mark set ct mark | 0x01000000", "ip saddr 192.0.2.10 udp dport 5107 return"} {
		if !strings.Contains(rules, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rules)
		}
	}
	// Traffic from the peer namespace into fw: listeners in fw.
	listen := func(network, addr string) func() {
		var closeFn func()
		inNetns(t, fw, func() {
			if network == "tcp" {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						c.Close()
					}
				}()
				closeFn = func() { ln.Close() }
				return
			}
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			closeFn = func() { pc.Close() }
		})
		return closeFn
	}
	defer listen("tcp", "192.0.2.1:5106")()
	defer listen("tcp", "192.0.2.1:5108")()
	send := func(network, addr string) {
		inNetns(t, peer, func() {
			c, err := net.DialTimeout(network, addr, time.Second)
			if err != nil {
				t.Fatalf("dial %s %s: %v", network, addr, err)
			}
			_, _ = c.Write([]byte("x"))
			c.Close()
		})
	}
	send("tcp", "192.0.2.1:5106")
	send("tcp", "192.0.2.1:5108")
	send("udp", "192.0.2.1:5107")
	send("udp", "192.0.2.1:5109")
	for port, marked := range map[int]bool{5106: true, 5108: false, 5107: false, 5109: true} {
		proto := map[bool]string{true: "tcp", false: "udp"}[port == 5106 || port == 5108]
		out, _ := exec.Command("ip", "netns", "exec", fw, "conntrack", "-L", "-p", proto, "--dport", fmt.Sprint(port)).CombinedOutput()
		got := strings.Contains(string(out), fmt.Sprintf("mark=%d", mark))
		if !strings.Contains(string(out), fmt.Sprintf("dport=%d", port)) {
			t.Errorf("no conntrack entry for port %d:\n%s", port, out)
		} else if got != marked {
			t.Errorf("port %d marked %v, want %v:\n%s", port, got, marked, out)
		}
	}
	// Without exclusions the chain goes; the input rules were never there.
	if n, err := Apply(c, &sdk.FirewallSpec{}); err != nil || n != 1 {
		t.Fatalf("Apply(empty) = %d, %v", n, err)
	}
	if strings.Contains(listed(t, fw), "tandem") {
		t.Errorf("the table stayed after an empty spec")
	}
}

// inNetns runs fn on a thread switched into namespace ns.
func inNetns(t *testing.T, ns string, fn func()) {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		lockAndRun(t, h, fn)
	}()
	<-done
}

func TestSyncExclusionErrorsNameTheEntry(t *testing.T) {
	for _, e := range []*sdk.SyncExclusion{
		{Name: "x", Protocol: "gre"},
		{Name: "x", Protocol: "icmp", DestinationPort: 80},
		{Name: "x", SourcePrefix: "10.0.0.0/8", DestinationPrefix: "2001:db8::/32"},
		{Name: "x", DestinationPrefix: "not-a-prefix"},
	} {
		_, err := syncMarkRules(&sdk.FirewallSpec{NoSyncMark: 1, SyncExclusions: []*sdk.SyncExclusion{e}})
		if err == nil || !strings.Contains(err.Error(), `sync exclusion "x"`) {
			t.Errorf("%v: error %v, want one naming the entry", e, err)
		}
	}

}

func lockAndRun(t *testing.T, h netns.NsHandle, fn func()) {
	runtime.LockOSThread() // the thread is dropped if Set(orig) fails
	orig, err := netns.Get()
	if err != nil {
		t.Error(err)
		return
	}
	defer orig.Close()
	if err := netns.Set(h); err != nil {
		t.Error(err)
		return
	}
	defer func() { _ = netns.Set(orig) }()
	fn()
}
