package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// SPEC: TKO-4
// Becoming active with bounce-interfaces on takes every configured data
// port down and up again, so that switches relearn; HA link ports are left
// alone, a repeated active intent bounces nothing, and without the option
// nothing is bounced.
func TestLabBouncesDataPortsOnTakeover(t *testing.T) {
	needRoot(t)
	nsName, nh, ns := labNetns(t, "bounce")
	run(t, "ip", "-n", nsName, "link", "add", "veth2", "type", "veth", "peer", "name", "veth3")
	run(t, "ip", "-n", nsName, "link", "set", "veth3", "up")
	h, _ := startLab(t, nsName)
	events := netlinkEvents(t, ns)
	intent := func(role string, bounce bool, addrs ...string) *sdk.Intent {
		return &sdk.Intent{Revision: 1, Role: role, Platform: &sdk.PlatformSpec{BounceOnTakeover: bounce, Ports: []*sdk.Port{
			{Name: "X1", Netdev: "veth0", AdminUp: true, Addresses: addrs},
			{Name: "X2", Netdev: "veth2", AdminUp: true, HaLink: true, Addresses: []string{"169.254.10.2/29"}},
		}}}
	}
	// downs lists the ports that went administratively down.
	downs := func(seen []string) map[string]bool {
		out := map[string]bool{}
		for _, e := range seen {
			f := strings.Fields(e)
			if len(f) >= 4 && f[0] == "link" && !strings.Contains(e, net.FlagUp.String()) {
				out[f[1]] = true
			}
		}
		return out
	}
	apply(t, h, intent(sdk.RoleStandby, true, "192.0.2.3/24"))
	events(300 * time.Millisecond)

	n := apply(t, h, intent(sdk.RoleActive, true, "192.0.2.3/24", "192.0.2.1/24"))
	got := downs(events(300 * time.Millisecond))
	if !got["veth0"] || got["veth2"] {
		t.Fatalf("takeover bounced %v; want veth0 (data) and not veth2 (HA link)", got)
	}
	if n < 3 { // down, up, the virtual address
		t.Errorf("takeover made %d changes, want at least 3", n)
	}
	link, err := nh.LinkByName("veth0")
	if err != nil || link.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("veth0 not up after the bounce: %v", err)
	}

	if n := apply(t, h, intent(sdk.RoleActive, true, "192.0.2.3/24", "192.0.2.1/24")); n != 0 {
		t.Errorf("a repeated active intent made %d changes", n)
	}
	if got := downs(events(300 * time.Millisecond)); len(got) > 0 {
		t.Errorf("a repeated active intent bounced %v", got)
	}

	apply(t, h, intent(sdk.RoleStandby, false, "192.0.2.3/24"))
	events(300 * time.Millisecond)
	apply(t, h, intent(sdk.RoleActive, false, "192.0.2.3/24", "192.0.2.1/24"))
	if got := downs(events(300 * time.Millisecond)); len(got) > 0 {
		t.Errorf("takeover without bounce-interfaces bounced %v", got)
	}
}
