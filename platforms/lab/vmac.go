package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
)

// The virtual MAC of a port (TKO-2) lives on a child interface: a
// private-mode macvlan named <netdev>v with the pair's shared MAC,
// carrying the virtual addresses, present only on the active unit. The
// port itself keeps its physical MAC and the unit's own monitoring
// address, as keepalived's use_vmac does.

// childName is the macvlan child of netdev.
func childName(netdev string) string {
	if len(netdev) > 14 {
		netdev = netdev[:14]
	}
	return netdev + "v"
}

// applyChild converges the virtual MAC child of one port and returns the
// kernel changes and the addresses to announce from it.
func (l *lab) applyChild(pl portPlan) (changes int, announce []netip.Addr, err error) {
	name := childName(pl.port.GetNetdev())
	child, err := l.h.LinkByName(name)
	exists := err == nil && child.Type() == "macvlan" && child.Attrs().ParentIndex == pl.link.Attrs().Index
	want := pl.vmac != nil && pl.port.GetAdminUp() && !pl.port.GetUnconfigured()
	if exists && (!want || !bytes.Equal(child.Attrs().HardwareAddr, pl.vmac)) {
		if err := l.h.LinkDel(child); err != nil {
			return changes, nil, fmt.Errorf("remove virtual MAC child %s: %w", name, err)
		}
		changes++
		delete(l.held, name)
		l.closeSenders(func(netdev string) bool { return netdev != name })
		exists = false
	}
	if !want {
		return changes, nil, nil
	}
	created := false
	if !exists {
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: pl.link.Attrs().Index, HardwareAddr: pl.vmac},
			Mode:      netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := l.h.LinkAdd(mv); err != nil {
			return changes, nil, fmt.Errorf("create virtual MAC child %s (%s): %w", name, pl.vmac, err)
		}
		changes++
		created = true
		if child, err = l.h.LinkByName(name); err != nil {
			return changes, nil, err
		}
		// Each of parent and child answers ARP only for its own addresses.
		for _, dev := range []string{pl.port.GetNetdev(), name} {
			if err := l.sysctl("net/ipv4/conf/"+dev+"/arp_ignore", "1"); err != nil {
				return changes, nil, err
			}
		}
	}
	if child.Attrs().Flags&net.FlagUp == 0 {
		if err := l.h.LinkSetUp(child); err != nil {
			return changes, nil, fmt.Errorf("virtual MAC child %s up: %w", name, err)
		}
		changes++
		created = true
	}
	changes, added, err := l.convergeAddrs(portPlan{port: pl.port, link: child, addrs: pl.vaddrs}, changes)
	if err != nil {
		return changes, added, err
	}
	held := map[netip.Addr]bool{}
	for _, n := range pl.vaddrs {
		held[ipAddr(n.IP)] = true
	}
	l.held[name] = held
	if created {
		added = added[:0]
		for a := range held {
			added = append(added, a)
		}
	}
	return changes, added, nil
}

// sysctl writes a value under /proc/sys in the driver's namespace.
func (l *lab) sysctl(key, value string) error {
	return l.inNetns(func() error {
		if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0o644); err != nil {
			return errors.Join(fmt.Errorf("sysctl %s", key), err)
		}
		return nil
	})
}
