package main

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// garpPair creates two namespaces, tdm-garp-<pid>-unit and
// tdm-garp-<pid>-nbr, joined by a veth pair: veth0 in the unit (down, for
// the driver to manage), veth1 in the neighbour (up, with the given
// addresses). Both are deleted when the test ends.
func garpPair(t *testing.T, nbrAddrs ...string) (unit, nbr string) {
	t.Helper()
	unit = fmt.Sprintf("tdm-garp-%d-unit", os.Getpid())
	nbr = fmt.Sprintf("tdm-garp-%d-nbr", os.Getpid())
	for _, name := range []string{unit, nbr} {
		_ = exec.Command("ip", "netns", "del", name).Run() // leftover of a killed run
		run(t, "ip", "netns", "add", name)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", name, err, out)
			}
		})
		// No duplicate address detection: no DAD solicitations on the wire,
		// addresses usable at once.
		run(t, "ip", "netns", "exec", name, "sh", "-c",
			"echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")
	}
	run(t, "ip", "-n", unit, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", nbr)
	for _, a := range nbrAddrs {
		run(t, "ip", "-n", nbr, "addr", "add", a, "dev", "veth1")
	}
	run(t, "ip", "-n", nbr, "link", "set", "veth1", "up")
	return unit, nbr
}

// frame is an announcement seen on the wire.
type frame struct {
	kind     string // "garp" or "na"
	addr     netip.Addr
	mac      net.HardwareAddr // ARP sender / NA target link-layer address
	override bool
	at       time.Time
}

func (f frame) String() string {
	return fmt.Sprintf("%s %s mac=%s override=%t at %s", f.kind, f.addr, f.mac, f.override, f.at.Format("15:04:05.000"))
}

// capture records the gratuitous ARPs and neighbour advertisements that
// arrive on netdev in namespace nsName, from an AF_PACKET socket opened in
// that namespace, until the test ends.
type capture struct {
	mu     sync.Mutex
	frames []frame
}

func startCapture(t *testing.T, nsName, netdev string) *capture {
	t.Helper()
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	var conn *packet.Conn
	err = withNetns(ns, nsName, func() error {
		ifi, err := net.InterfaceByName(netdev) // in nsName: this thread is there
		if err != nil {
			return err
		}
		conn, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		return err
	})
	if err != nil {
		t.Fatalf("capture on %s in %s: %v", netdev, nsName, err)
	}
	c := &capture{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return // closed
			}
			if f, ok := parseAnnouncement(buf[:n]); ok {
				f.at = time.Now()
				c.mu.Lock()
				c.frames = append(c.frames, f)
				c.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return c
}

// since returns the frames captured at or after t0.
func (c *capture) since(t0 time.Time) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []frame
	for _, f := range c.frames {
		if !f.at.Before(t0) {
			out = append(out, f)
		}
	}
	return out
}

// parseAnnouncement recognises a gratuitous ARP request (broadcast, sender
// IP == target IP) and an unsolicited neighbour advertisement (to ff02::1,
// hop limit 255, not solicited, with a target link-layer address option).
func parseAnnouncement(b []byte) (frame, bool) {
	if len(b) < 14 {
		return frame{}, false
	}
	dst, typ, p := net.HardwareAddr(b[0:6]), binary.BigEndian.Uint16(b[12:14]), b[14:]
	switch typ {
	case unix.ETH_P_ARP:
		if len(p) < 28 || !slices.Equal(dst, ethBroadcast) || binary.BigEndian.Uint16(p[6:8]) != 1 {
			return frame{}, false
		}
		sip, tip := netip.AddrFrom4([4]byte(p[14:18])), netip.AddrFrom4([4]byte(p[24:28]))
		if sip != tip {
			return frame{}, false
		}
		return frame{kind: "garp", addr: sip, mac: slices.Clone(net.HardwareAddr(p[8:14]))}, true
	case unix.ETH_P_IPV6:
		if len(p) < 40+24 || p[6] != unix.IPPROTO_ICMPV6 || p[7] != 255 {
			return frame{}, false
		}
		if netip.AddrFrom16([16]byte(p[24:40])) != ipv6AllNodes {
			return frame{}, false
		}
		icmp := p[40:]
		if icmp[0] != 136 || icmp[4]&0x40 != 0 { // NA, solicited flag clear
			return frame{}, false
		}
		f := frame{kind: "na", addr: netip.AddrFrom16([16]byte(icmp[8:24])), override: icmp[4]&0x20 != 0}
		for opts := icmp[24:]; len(opts) >= 8 && opts[1] > 0 && len(opts) >= int(opts[1])*8; opts = opts[int(opts[1])*8:] {
			if opts[0] == 2 { // target link-layer address
				f.mac = slices.Clone(net.HardwareAddr(opts[2:8]))
			}
		}
		return f, f.mac != nil
	}
	return frame{}, false
}

// count returns how many frames announce addr.
func count(frames []frame, addr string) int {
	n := 0
	for _, f := range frames {
		if f.addr == netip.MustParseAddr(addr) {
			n++
		}
	}
	return n
}

// neighMAC returns the neighbour table entry of ip on netdev in nsName (via
// netlink in that namespace): its link-layer address and state.
func neighMAC(t *testing.T, h *netlink.Handle, netdev, ip string) (string, int) {
	t.Helper()
	link, err := h.LinkByName(netdev)
	if err != nil {
		t.Fatal(err)
	}
	want := net.ParseIP(ip)
	fam := netlink.FAMILY_V4
	if want.To4() == nil {
		fam = netlink.FAMILY_V6
	}
	neighs, err := h.NeighList(link.Attrs().Index, fam)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range neighs {
		if n.IP.Equal(want) {
			return n.HardwareAddr.String(), n.State
		}
	}
	return "", 0
}

// TestLabAnnouncesAddedAddresses (TKO-3): the neighbour holds entries for
// the virtual IPv4 and IPv6 addresses that point to the old active's MAC.
// An Apply that adds the virtual addresses to the unit's port announces
// them at once (gratuitous ARP, unsolicited NA with override), and the
// neighbour's kernel switches both entries to the unit's MAC: the proof is
// the neighbour table itself, with arp_accept=0 (the kernel only updates an
// entry it has, so the update can only come from the announcement), plus a
// capture on the neighbour's side that saw the burst. A repeated Apply
// changes nothing and sends nothing; the periodic refresh re-announces
// every held address while it is on, and stops when it is turned off.
//
// SPEC: TKO-3
func TestLabAnnouncesAddedAddresses(t *testing.T) {
	needRoot(t)
	const (
		unitMAC = "02:00:5e:10:00:01"
		oldMAC  = "02:de:ad:00:00:01" // the old active's
		vip4    = "192.0.2.10"
		vip6    = "2001:db8:1::10"
	)
	unit, nbr := garpPair(t, "192.0.2.2/24", "2001:db8:1::2/64")
	// The neighbour accepts gratuitous ARP only into an entry it already
	// has (arp_accept=0, the default, set explicitly): a STALE entry, as a
	// host has after talking to the old active. (A PERMANENT entry is never
	// overridden by received ARP or NA, by design.)
	run(t, "ip", "netns", "exec", nbr, "sh", "-c",
		"echo 0 > /proc/sys/net/ipv4/conf/all/arp_accept && echo 0 > /proc/sys/net/ipv4/conf/veth1/arp_accept")
	for _, ip := range []string{vip4, vip6} {
		run(t, "ip", "-n", nbr, "neigh", "replace", ip, "lladdr", oldMAC, "dev", "veth1", "nud", "stale")
	}
	nbrNs, err := netns.GetFromName(nbr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nbrNs.Close() })
	nh, err := netlink.NewHandleAt(nbrNs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nh.Close)
	for _, ip := range []string{vip4, vip6} {
		if mac, _ := neighMAC(t, nh, "veth1", ip); mac != oldMAC {
			t.Fatalf("set-up: neighbour entry for %s is %q, want %s", ip, mac, oldMAC)
		}
	}

	h, _ := startLab(t, unit)
	port := func(addrs ...string) *sdk.Intent {
		return &sdk.Intent{Role: sdk.RoleActive, Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{
			{Name: "X1", Netdev: "veth0", AdminUp: true, Mac: unitMAC, Addresses: addrs},
		}}}
	}
	// Standby: the unit's own addresses only.
	standby := port("192.0.2.1/24", "2001:db8:1::1/64")
	standby.Role = sdk.RoleStandby
	apply(t, h, standby)
	capt := startCapture(t, nbr, "veth1")
	time.Sleep(400 * time.Millisecond) // the first Apply's burst is over

	// Takeover: the virtual addresses are added.
	active := port("192.0.2.1/24", "192.0.2.10/24", "2001:db8:1::1/64", "2001:db8:1::10/64")
	t0 := time.Now()
	res, err := h.Apply(t.Context(), "lab", active)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetChanges() != 2 || len(res.GetWarnings()) > 0 {
		t.Fatalf("takeover Apply: %d changes (want 2), warnings %q", res.GetChanges(), res.GetWarnings())
	}
	for _, ip := range []string{vip4, vip6} {
		deadline := time.Now().Add(2 * time.Second)
		for {
			mac, state := neighMAC(t, nh, "veth1", ip)
			if mac == unitMAC {
				t.Logf("neighbour entry for %s -> %s (state %#x) %v after Apply started", ip, mac, state, time.Since(t0).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("neighbour entry for %s still %q (state %#x), want %s; captured %+v", ip, mac, state, unitMAC, capt.since(t0))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// The whole burst, for the added addresses only, from the unit's MAC.
	time.Sleep(announceCount*announceGap + 300*time.Millisecond)
	seen := capt.since(t0)
	for _, f := range seen {
		if f.mac.String() != unitMAC {
			t.Errorf("announcement %+v carries MAC %s, want %s", f, f.mac, unitMAC)
		}
		if f.kind == "na" && !f.override {
			t.Errorf("neighbour advertisement without override flag: %+v", f)
		}
	}
	if n4, n6 := count(seen, vip4), count(seen, vip6); n4 != announceCount || n6 != announceCount {
		t.Fatalf("captured %d gratuitous ARPs for %s and %d NAs for %s, want %d each: %+v", n4, vip4, n6, vip6, announceCount, seen)
	}
	if len(seen) != 2*announceCount {
		t.Fatalf("addresses already held were announced again: %+v", seen)
	}

	// A repeated Apply changes nothing and sends nothing.
	t1 := time.Now()
	if n := apply(t, h, active); n != 0 {
		t.Fatalf("repeated Apply: %d changes, want 0", n)
	}
	time.Sleep(announceCount*announceGap + 300*time.Millisecond)
	if seen := capt.since(t1); len(seen) > 0 {
		t.Fatalf("repeated Apply sent announcements: %+v", seen)
	}

	// Periodic refresh: every held address, about once a second.
	refresh := port(active.Platform.Ports[0].Addresses...)
	refresh.Platform.GarpIntervalSeconds = 1
	t2 := time.Now()
	if n := apply(t, h, refresh); n != 0 {
		t.Fatalf("Apply turning on the refresh: %d changes, want 0", n)
	}
	time.Sleep(2500 * time.Millisecond)
	seen = capt.since(t2)
	for _, a := range []string{"192.0.2.1", vip4, "2001:db8:1::1", vip6} {
		if n := count(seen, a); n < 2 || n > 3 {
			t.Errorf("refresh announced %s %d times in 2.5 s, want 2", a, n)
		}
	}
	if t.Failed() {
		t.Fatalf("captured %+v", seen)
	}
	refresh.Platform.GarpIntervalSeconds = 0
	apply(t, h, refresh)
	t3 := time.Now()
	time.Sleep(1500 * time.Millisecond)
	if seen := capt.since(t3); len(seen) > 0 {
		t.Fatalf("refresh still announcing after it was turned off: %+v", seen)
	}
}

// TestNAFrame checks the neighbour advertisement against the parser the
// kernel test uses, without root.
func TestNAFrame(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0x5e, 0x10, 0, 1}
	target := netip.MustParseAddr("2001:db8::10")
	b, err := naFrame(mac, target, true)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := parseAnnouncement(b)
	if !ok || f.kind != "na" || f.addr != target || f.mac.String() != mac.String() || !f.override {
		t.Fatalf("parsed %+v (ok %t)", f, ok)
	}
	if b[14+40+4]&0x80 == 0 {
		t.Fatal("router flag not set")
	}
	if _, err := naFrame(mac, netip.MustParseAddr("192.0.2.1"), false); err == nil {
		t.Fatal("an IPv4 target was accepted")
	}
}

// The announcement sockets of a port are opened once and kept: the
// takeover's Apply announces on the sender the standby's Apply opened (no
// socket is opened on the takeover path), a new MAC replaces it, and
// Close closes them all.
// SPEC: TKO-3
func TestLabKeepsAnnouncementSockets(t *testing.T) {
	needRoot(t)
	unit, _ := garpPair(t, "192.0.2.2/24")
	l, err := newLab(unit, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	intent := func(role, mac string, addrs ...string) *sdk.Intent {
		return &sdk.Intent{Role: role, Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{
			{Name: "X1", Netdev: "veth0", AdminUp: true, Mac: mac, Addresses: addrs},
		}}}
	}
	applyDirect := func(in *sdk.Intent) *sender {
		t.Helper()
		if _, err := l.Apply(t.Context(), in); err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.senders["veth0"]
	}
	standby := applyDirect(intent(sdk.RoleStandby, "02:00:5e:10:00:01", "192.0.2.1/24"))
	if standby == nil {
		t.Fatal("the standby's Apply announced its address without keeping a sender")
	}
	if active := applyDirect(intent(sdk.RoleActive, "02:00:5e:10:00:01", "192.0.2.1/24", "192.0.2.10/24")); active != standby {
		t.Error("the takeover opened new announcement sockets instead of using the port's open ones")
	}
	if moved := applyDirect(intent(sdk.RoleActive, "02:00:5e:10:00:02", "192.0.2.1/24", "192.0.2.10/24")); moved == standby || moved == nil {
		t.Error("a new MAC did not replace the port's sender")
	}
	l.Close()
	if n := len(l.senders); n != 0 {
		t.Errorf("%d senders still open after Close", n)
	}
}
