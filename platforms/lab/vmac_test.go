package main

import (
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// SPEC: TKO-2
// On the active the virtual addresses sit on a private-mode macvlan child
// with the virtual MAC while the port keeps its physical MAC and its own
// address; both answer ARP only for their own addresses; a repeated apply
// changes nothing; as standby the child is gone.
func TestLabVirtualMACChild(t *testing.T) {
	needRoot(t)
	nsName, nh, _ := labNetns(t, "vmac")
	h, _ := startLab(t, nsName)
	const vmac = "02:aa:bb:cc:dd:01"
	active := &sdk.Intent{Revision: 1, Role: sdk.RoleActive, Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{{
		Name: "X1", Netdev: "veth0", AdminUp: true, Addresses: []string{"192.0.2.2/24"},
		VirtualMac: vmac, VirtualAddresses: []string{"192.0.2.1/24", "2001:db8::1/64"},
	}}}}
	if n := apply(t, h, active); n < 4 { // child, up, 2 addresses (+ the port's own)
		t.Fatalf("first apply made %d changes", n)
	}
	child, err := nh.LinkByName("veth0v")
	if err != nil {
		t.Fatalf("no child: %v", err)
	}
	mv, ok := child.(*netlink.Macvlan)
	if !ok || mv.Mode != netlink.MACVLAN_MODE_PRIVATE || child.Attrs().HardwareAddr.String() != vmac || child.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("child %T mode %v mac %s flags %v", child, mv.Mode, child.Attrs().HardwareAddr, child.Attrs().Flags)
	}
	got, _ := globalAddrs(t, nh, "veth0v")
	if !slices.Equal(got, []string{"192.0.2.1/24", "2001:db8::1/64"}) {
		t.Errorf("child addresses %v", got)
	}
	parent, _ := nh.LinkByName("veth0")
	if parent.Attrs().HardwareAddr.String() == vmac {
		t.Errorf("the port took the virtual MAC")
	}
	if got, _ := globalAddrs(t, nh, "veth0"); !slices.Equal(got, []string{"192.0.2.2/24"}) {
		t.Errorf("port addresses %v, want its own only", got)
	}
	for _, dev := range []string{"veth0", "veth0v"} {
		out, err := exec.Command("ip", "netns", "exec", nsName, "cat", "/proc/sys/net/ipv4/conf/"+dev+"/arp_ignore").Output()
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Errorf("%s arp_ignore = %q (%v), want 1", dev, out, err)
		}
	}
	if n := apply(t, h, active); n != 0 {
		t.Errorf("a repeated apply made %d changes", n)
	}
	standby := &sdk.Intent{Revision: 1, Role: sdk.RoleStandby, Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{{
		Name: "X1", Netdev: "veth0", AdminUp: true, Addresses: []string{"192.0.2.2/24"},
	}}}}
	if n := apply(t, h, standby); n != 1 {
		t.Errorf("standby apply made %d changes, want 1 (the child removed)", n)
	}
	if _, err := nh.LinkByName("veth0v"); err == nil {
		t.Errorf("the standby kept the virtual MAC child")
	}
}
