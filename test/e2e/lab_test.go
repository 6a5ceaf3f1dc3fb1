package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// labCtl runs `tandemctl lab` for the lab called name kept in dir.
func labCtl(t *testing.T, name, dir string, args ...string) (string, error) {
	t.Helper()
	full := append([]string{"lab", "-name", name, "-dir", dir}, args...)
	out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput()
	return string(out), err
}

// The lab builds client, fw1, fw2 and server with LAN, WAN, HA and backup
// HA segments; both units run tandemd, which applies their own monitoring
// and HA link addresses, and only the elected active holds the virtual
// ones. Cables can be cut and restored, a unit powered off, and
// everything is removed again.
func TestLabTopology(t *testing.T) {
	name := fmt.Sprintf("e2elab%d", os.Getpid()%100000)
	dir := filepath.Join(t.TempDir(), "lab")
	if out, err := labCtl(t, name, dir, "up", "-bin", bin); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := labCtl(t, name, dir, "down"); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
		for _, h := range []string{"switch", "client", "server", "fw1", "fw2"} {
			if _, err := os.Stat("/run/netns/" + name + "-" + h); err == nil {
				t.Errorf("namespace %s-%s left behind", name, h)
			}
		}
	})
	fw1 := &unit{t: t, ns: name + "-fw1"}
	fw2 := &unit{t: t, ns: name + "-fw2"}

	// SPEC: MON-2
	fw1.eventually("fw1 holds its own addresses", 15*time.Second, func() bool {
		return fw1.hasAddr("x0", "192.0.2.2/24") && fw1.hasAddr("x1", "198.51.100.2/24") &&
			fw1.hasAddr("x2", "169.254.10.1/29") && fw1.hasAddr("x3", "169.254.11.1/29")
	})
	fw2.eventually("fw2 holds its own addresses", 15*time.Second, func() bool {
		return fw2.hasAddr("x0", "192.0.2.3/24") && fw2.hasAddr("x1", "198.51.100.3/24") && fw2.hasAddr("x2", "169.254.10.2/29")
	})
	fw2.eventually("fw2's input filter guards its WAN monitoring address", 10*time.Second, func() bool {
		out, err := exec.Command("ip", "netns", "exec", fw2.ns, "nft", "list", "table", "inet", "tandem").Output()
		return err == nil && strings.Contains(string(out), "ip daddr 198.51.100.3 drop")
	})
	fw1.eventually("exactly one unit, the elected active, holds the virtual address", 10*time.Second, func() bool {
		return fw1.hasAddr("x0", "192.0.2.1/24") != fw2.hasAddr("x0", "192.0.2.1/24")
	})
	for _, u := range []*unit{fw1, fw2} {
		loose, err := exec.Command("ip", "netns", "exec", u.ns, "cat", "/proc/sys/net/netfilter/nf_conntrack_tcp_loose").Output()
		if err != nil || strings.TrimSpace(string(loose)) != "0" {
			t.Errorf("%s: nf_conntrack_tcp_loose = %q (%v), want 0", u.ns, loose, err)
		}
		rules, err := exec.Command("ip", "netns", "exec", u.ns, "nft", "list", "chain", "inet", "tandem_lab", "forward").Output()
		if err != nil || !strings.Contains(string(rules), "policy drop") || !strings.Contains(string(rules), "ct state established,related accept") {
			t.Errorf("%s: forward policy:\n%s (%v)", u.ns, rules, err)
		}
	}
	reach := func(from, to string, want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok, err := ping(from, to)
			if err != nil {
				t.Fatalf("ping %s from %s: %v", to, from, err)
			}
			if ok == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("ping %s from %s: reachable=%v, want %v", to, from, ok, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// SPEC: MON-3
	// Management (here ICMP echo) reaches the LAN monitoring addresses,
	// which allow it, but not the WAN ones, which do not.
	reach(name+"-client", "192.0.2.2", true)
	reach(name+"-client", "192.0.2.3", true)
	reach(name+"-server", "198.51.100.3", false)
	reach(name+"-server", "198.51.100.2", false)

	// SPEC: SEC-3
	// On the HA links a unit hears its peer, and nobody else: a stranger
	// address on the HA segment is dropped.
	reach(name+"-fw1", "169.254.10.2", true)
	reach(name+"-fw1", "169.254.11.2", true)
	run(t, "ip", "-n", name+"-fw1", "addr", "add", "169.254.10.5/29", "dev", "x2")
	if ok, err := pingFrom(name+"-fw1", "169.254.10.5", "169.254.10.2"); err != nil || ok {
		t.Errorf("a non-member address on the HA link got an answer from fw2 (ok=%v, err=%v)", ok, err)
	}
	run(t, "ip", "-n", name+"-fw1", "addr", "del", "169.254.10.5/29", "dev", "x2")

	if out, err := labCtl(t, name, dir, "cut", "fw2:ha"); err != nil {
		t.Fatalf("cut: %v\n%s", err, out)
	}
	reach(name+"-fw1", "169.254.10.2", false)
	reach(name+"-fw1", "169.254.11.2", true) // the backup path is another cable
	if out, err := labCtl(t, name, dir, "restore", "fw2:ha"); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	reach(name+"-fw1", "169.254.10.2", true)

	if out, err := labCtl(t, name, dir, "kill", "fw1"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	reach(name+"-client", "192.0.2.2", false)
	reach(name+"-client", "192.0.2.3", true)
	status, err := labCtl(t, name, dir, "status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, status)
	}
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "fw1" && f[3] != "false" || len(f) >= 4 && f[0] == "fw2" && f[3] != "true" {
			t.Errorf("status after kill fw1: %q", line)
		}
	}
}
