package dhcpclient

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"

	"github.com/tandem-ha/tandem/plugins/statesync/publish/records"
)

// installLease puts the lease's address on the interface and its gateway
// as the default route.
func installLease(iface string, l *records.DHCPLease) error {
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", iface, err)
	}
	a := &netlink.Addr{IPNet: prefixNet(l.Address)}
	if err := netlink.AddrReplace(link, a); err != nil {
		return fmt.Errorf("address %v on %s: %w", l.Address, iface, err)
	}
	if l.Gateway.IsValid() {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: l.Gateway.AsSlice(),
			Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("default route via %v: %w", l.Gateway, err)
		}
	}
	return nil
}

// removeAddress takes the address off the interface (its routes go with
// it).
func removeAddress(iface string, p netip.Prefix) error {
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", iface, err)
	}
	if err := netlink.AddrDel(link, &netlink.Addr{IPNet: prefixNet(p)}); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("address %v on %s: %w", p, iface, err)
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
