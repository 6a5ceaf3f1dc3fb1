package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/pluginhost"
	"github.com/tandem-ha/tandem/core/pluginhost/pluginhosttest"
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// These tests run the real tandem-platform-lab binary under a real
// pluginhost.Host against a network namespace they create (veth0 <-> veth1).

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create network namespaces (run the tests as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: needs the ip command (iproute2)")
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// labNetns creates the namespace tdm-<tag>-<pid> with a veth pair veth0/veth1
// (veth1 up, veth0 down), deleted again when the test ends.
func labNetns(t *testing.T, tag string) (string, *netlink.Handle, netns.NsHandle) {
	t.Helper()
	name := fmt.Sprintf("tdm-%s-%d", tag, os.Getpid())
	_ = exec.Command("ip", "netns", "del", name).Run() // leftover of a killed run
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	// No duplicate address detection: addresses are final at once, so no
	// late RTM_NEWADDR (tentative -> permanent) disturbs the event checks.
	run(t, "ip", "netns", "exec", name, "sh", "-c",
		"echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")
	run(t, "ip", "-n", name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	run(t, "ip", "-n", name, "link", "set", "veth1", "up")
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return name, h, ns
}

var (
	labBinOnce sync.Once
	labBinDir  string
	labBin     []byte
	labBinErr  error
)

// startLab builds tandem-platform-lab, drops it into a plugin directory and
// runs it under a Host managing namespace nsName.
func startLab(t *testing.T, nsName string) (*pluginhost.Host, *pluginhosttest.Recorder) {
	t.Helper()
	labBinOnce.Do(func() {
		labBinDir = t.TempDir() // removed when the first user ends: copy
		labBin, labBinErr = os.ReadFile(pluginhosttest.Build(t, ".", labBinDir, "lab"))
	})
	if labBinErr != nil {
		t.Fatal(labBinErr)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tandem-platform-lab"), labBin, 0o755); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h := pluginhost.New(pluginhost.Config{Dir: dir, Logger: log, Env: []string{EnvNetns + "=" + nsName}})
	rec := pluginhosttest.Record(h)
	t.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st, ok := h.Plugin("lab"); !ok || st.State != pluginhost.StateRunning {
		t.Fatalf("lab plugin not running: %+v", h.Plugins())
	}
	return h, rec
}

func apply(t *testing.T, h *pluginhost.Host, in *sdk.Intent) uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := h.Apply(ctx, "lab", in)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res.GetChanges()
}

// globalAddrs returns veth's global-scope addresses, sorted, and whether it
// has an IPv6 link-local address.
func globalAddrs(t *testing.T, h *netlink.Handle, dev string) (global []string, linkLocal bool) {
	t.Helper()
	link, err := h.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if kernelLinkLocal(a.IP) {
			linkLocal = true
			continue
		}
		if a.Scope == unix.RT_SCOPE_UNIVERSE {
			global = append(global, a.IPNet.String())
		}
	}
	slices.Sort(global)
	return global, linkLocal
}

// netlinkEvents subscribes to address and link events in ns and returns a
// function that waits until the namespace has been quiet for quiet and
// returns the events seen meanwhile.
func netlinkEvents(t *testing.T, ns netns.NsHandle) func(quiet time.Duration) []string {
	t.Helper()
	done := make(chan struct{})
	addrs := make(chan netlink.AddrUpdate, 1024)
	links := make(chan netlink.LinkUpdate, 1024)
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: &ns}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: &ns}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(done)
		for range addrs {
		}
		for range links {
		}
	})
	return func(quiet time.Duration) []string {
		var seen []string
		for {
			select {
			case u := <-addrs:
				seen = append(seen, fmt.Sprintf("addr new=%t %s", u.NewAddr, u.LinkAddress.String()))
			case u := <-links:
				seen = append(seen, fmt.Sprintf("link %s type=%d flags=%v", u.Link.Attrs().Name, u.Header.Type, u.Link.Attrs().Flags))
			case <-time.After(quiet):
				return seen
			}
		}
	}
}

// TestLabApplyConverges: Apply sets mac, link state and exactly the intent's
// global addresses (removing a stray one, keeping link-local ones); a second
// Apply makes no kernel change and causes no netlink address or link event;
// drift made by hand is repaired by the next Apply; an unknown netdev is an
// error naming the port and the netdev.
func TestLabApplyConverges(t *testing.T) {
	needRoot(t)
	nsName, nh, ns := labNetns(t, "labapply")
	// A stray address the intent does not want.
	run(t, "ip", "-n", nsName, "addr", "add", "203.0.113.9/24", "dev", "veth0")
	h, _ := startLab(t, nsName)

	// 169.254/16 is IPv4 link-local, as HA links use it: managed like any
	// other address (only IPv6 fe80::/10 is the kernel's).
	want := []string{"169.254.10.1/29", "192.0.2.1/24", "198.51.100.7/28", "2001:db8:1::1/64"}
	intent := &sdk.Intent{Revision: 1, Role: sdk.RoleActive, Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{
		{Name: "X1", Netdev: "veth0", AdminUp: true, Addresses: want, Mac: "02:00:5e:00:01:01"},
	}}}

	// mac + up + 4 adds + 1 delete.
	if n := apply(t, h, intent); n != 7 {
		t.Fatalf("first Apply: %d changes, want 7", n)
	}
	link, err := nh.LinkByName("veth0")
	if err != nil {
		t.Fatal(err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 || link.Attrs().HardwareAddr.String() != "02:00:5e:00:01:01" {
		t.Fatalf("veth0 flags %v mac %s", link.Attrs().Flags, link.Attrs().HardwareAddr)
	}
	got, ll := globalAddrs(t, nh, "veth0")
	if !slices.Equal(got, want) {
		t.Fatalf("addresses %v, want %v", got, want)
	}
	if !ll {
		t.Fatal("the kernel's IPv6 link-local address is gone")
	}

	// Second Apply: zero changes, and the kernel saw nothing.
	events := netlinkEvents(t, ns)
	if settle := events(300 * time.Millisecond); len(settle) > 0 {
		t.Logf("events before the second apply (settling): %d", len(settle))
	}
	intent.Revision = 2
	if n := apply(t, h, intent); n != 0 {
		t.Fatalf("second Apply: %d changes, want 0", n)
	}
	if ev := events(300 * time.Millisecond); len(ev) > 0 {
		t.Fatalf("second Apply caused netlink events: %v", ev)
	}

	// Drift: an address deleted by hand is restored, and only it.
	run(t, "ip", "-n", nsName, "addr", "del", "198.51.100.7/28", "dev", "veth0")
	if n := apply(t, h, intent); n != 1 {
		t.Fatalf("Apply after deleting an address: %d changes, want 1", n)
	}
	if got, _ := globalAddrs(t, nh, "veth0"); !slices.Equal(got, want) {
		t.Fatalf("addresses after repair %v, want %v", got, want)
	}
	// Drift: link set down by hand (the kernel also drops the IPv6
	// addresses then); Apply brings both back.
	run(t, "ip", "-n", nsName, "link", "set", "veth0", "down")
	if n := apply(t, h, intent); n == 0 {
		t.Fatal("Apply after setting the link down: 0 changes")
	}
	if got, _ := globalAddrs(t, nh, "veth0"); !slices.Equal(got, want) {
		t.Fatalf("addresses after repair %v, want %v", got, want)
	}
	if n := apply(t, h, intent); n != 0 {
		t.Fatalf("Apply after repair: %d changes, want 0", n)
	}

	// Admin down with fewer addresses: converges and is idempotent too.
	down := &sdk.Intent{Revision: 3, Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{
		{Name: "X1", Netdev: "veth0", AdminUp: false, Addresses: []string{"192.0.2.1/24", "2001:db8:1::1/64"}},
	}}}
	if n := apply(t, h, down); n == 0 {
		t.Fatal("admin-down Apply: 0 changes")
	}
	if n := apply(t, h, down); n != 0 {
		t.Fatalf("second admin-down Apply: %d changes, want 0", n)
	}
	link, _ = nh.LinkByName("veth0")
	if link.Attrs().Flags&net.FlagUp != 0 {
		t.Fatal("veth0 still up")
	}
	if got, _ := globalAddrs(t, nh, "veth0"); !slices.Equal(got, []string{"192.0.2.1/24", "2001:db8:1::1/64"}) {
		t.Fatalf("addresses when down: %v", got)
	}

	// Unknown netdev.
	_, err = h.Apply(context.Background(), "lab", &sdk.Intent{Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{
		{Name: "X1", Netdev: "veth0", AdminUp: true},
		{Name: "X7", Netdev: "eth7"},
	}}})
	if err == nil || !strings.Contains(err.Error(), "X7") || !strings.Contains(err.Error(), `"eth7"`) {
		t.Fatalf("unknown netdev: err = %v", err)
	}
	// ... and nothing was changed by the refused intent.
	link, _ = nh.LinkByName("veth0")
	if link.Attrs().Flags&net.FlagUp != 0 {
		t.Fatal("a refused intent changed veth0")
	}
}

// TestLabWatchReportsCarrierLoss: with X1 up, taking the veth peer down (the
// cable pulled) produces a LinkEvent{X1, up=false} promptly, from a netlink
// subscription; bringing it back produces up=true.
func TestLabWatchReportsCarrierLoss(t *testing.T) {
	needRoot(t)
	nsName, _, _ := labNetns(t, "labwatch")
	h, rec := startLab(t, nsName)
	intent := &sdk.Intent{Revision: 1, Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{
		{Name: "X1", Netdev: "veth0", AdminUp: true, Addresses: []string{"192.0.2.1/24"}},
	}}}
	apply(t, h, intent)

	linkEvent := func(from int, up bool) (int, bool) {
		_, idx, ok := rec.WaitFor(from, 3*time.Second, func(e pluginhost.Event) bool {
			l := e.Observation.GetLink()
			return e.Type == pluginhost.EventObservation && l.GetPort() == "X1" && l.GetNetdev() == "veth0" && l.GetUp() == up
		})
		return idx, ok
	}
	idx, ok := linkEvent(0, true)
	if !ok {
		t.Fatalf("no LinkEvent up for X1; events: %v", rec.Events())
	}

	mark := max(idx+1, rec.Len())
	t0 := time.Now()
	run(t, "ip", "-n", nsName, "link", "set", "veth1", "down")
	idx, ok = linkEvent(mark, false)
	if !ok {
		t.Fatalf("no LinkEvent down for X1 after carrier loss; events: %v", rec.Events()[mark:])
	}
	lat := time.Since(t0)
	t.Logf("carrier loss reported after %v", lat)
	if lat > time.Second {
		t.Fatalf("carrier loss reported after %v, want < 1s", lat)
	}

	run(t, "ip", "-n", nsName, "link", "set", "veth1", "up")
	if _, ok := linkEvent(idx+1, true); !ok {
		t.Fatal("no LinkEvent up after carrier came back")
	}
}
