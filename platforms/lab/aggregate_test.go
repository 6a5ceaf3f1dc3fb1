package main

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// SPEC: TKO-6
// With aggregates-up-on-passive false the standby's intent holds the
// aggregate's port down: the netdev goes administratively down in the
// kernel and keeps the unit's own addresses. The takeover's single Apply
// brings it up together with the virtual addresses and announces them on
// the segment; a repeated Apply changes nothing, and stepping down holds
// it down again. This kernel has no bonding driver, so a veth stands in
// for the bond: tandem only sets the aggregate's admin state, the OS
// builds the bond.
func TestLabHoldsAggregateDownOnPassive(t *testing.T) {
	needRoot(t)
	const (
		vip4 = "192.0.2.10"
		vip6 = "2001:db8:1::10"
	)
	unit, nbr := garpPair(t, "192.0.2.2/24", "2001:db8:1::2/64")
	ns, err := netns.GetFromName(unit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nh.Close)
	h, _ := startLab(t, unit)
	own := []string{"192.0.2.1/24", "2001:db8:1::1/64"}
	virtual := []string{"192.0.2.10/24", "2001:db8:1::10/64"}
	intent := func(role string, adminUp bool, addrs ...string) *sdk.Intent {
		return &sdk.Intent{Role: role, Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{
			{Name: "X1", Netdev: "veth0", AdminUp: adminUp, Addresses: addrs},
		}}}
	}
	check := func(when string, up bool, want []string) {
		t.Helper()
		link, err := nh.LinkByName("veth0")
		if err != nil {
			t.Fatal(err)
		}
		if got := link.Attrs().Flags&net.FlagUp != 0; got != up {
			t.Errorf("%s: veth0 admin up = %t, want %t", when, got, up)
		}
		want = slices.Sorted(slices.Values(want))
		if got, _ := globalAddrs(t, nh, "veth0"); !slices.Equal(got, want) {
			t.Errorf("%s: addresses %v, want %v", when, got, want)
		}
	}

	standby := intent(sdk.RoleStandby, false, own...)
	apply(t, h, standby)
	check("standby", false, own)
	if n := apply(t, h, standby); n != 0 {
		t.Errorf("repeated standby Apply: %d changes, want 0", n)
	}

	capt := startCapture(t, nbr, "veth1")
	active := intent(sdk.RoleActive, true, append(slices.Clone(own), virtual...)...)
	t0 := time.Now()
	if n := apply(t, h, active); n != 3 { // up + two virtual addresses
		t.Errorf("takeover Apply: %d changes, want 3", n)
	}
	check("active", true, append(slices.Clone(own), virtual...))
	time.Sleep(announceCount*announceGap + 300*time.Millisecond)
	seen := capt.since(t0)
	for _, a := range []string{vip4, vip6} {
		if n := count(seen, a); n != announceCount {
			t.Errorf("takeover announced %s %d times, want %d: %v", a, n, announceCount, seen)
		}
	}
	if n := apply(t, h, active); n != 0 {
		t.Errorf("repeated active Apply: %d changes, want 0", n)
	}

	apply(t, h, standby)
	check("standby again", false, own)
}
