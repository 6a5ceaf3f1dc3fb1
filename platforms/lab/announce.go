package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Address announcements (TKO-3): when an Apply adds an address to an up
// port, or brings a port with addresses up, the driver tells the segment at
// once, so that neighbours switch their entry to this unit's MAC instead of
// waiting for it to expire: gratuitous ARP (an ARP request with sender and
// target IP both the address, Ethernet broadcast) for IPv4, an unsolicited
// neighbour advertisement (override flag set, target link-layer address
// option, to ff02::1) for IPv6. The first round goes out before Apply
// returns, the rest of the burst from a goroutine. Addresses already held
// are not announced again, except by the optional periodic refresh
// (PlatformSpec.garp_interval_seconds).
//
// Frames are sent on AF_PACKET sockets opened in the managed namespace and
// built here, so that an IPv6 address need not have finished duplicate
// address detection and no socket has to be bound to it. The sockets carry
// a drop-all filter: they only send.
const (
	// announceCount is the number of announcements per address in a burst.
	announceCount = 3
	// announceGap separates the announcements of a burst.
	announceGap = 100 * time.Millisecond
)

var (
	ipv6AllNodes    = netip.MustParseAddr("ff02::1")
	ipv6AllNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	ethBroadcast    = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	ethZero         = net.HardwareAddr{0, 0, 0, 0, 0, 0}
)

// announcement is what to announce on one port.
type announcement struct {
	port   string
	netdev string
	addrs  []netip.Addr
}

func (a announcement) where() string { return fmt.Sprintf("port %s (netdev %q)", a.port, a.netdev) }

// sender sends the announcements of one netdev on sockets opened in the
// managed namespace. The lab keeps one per netdev open (lab.senders), so
// that a takeover does not open sockets, and uses it under l.mu only.
type sender struct {
	index  int // the netdev's ifindex when opened
	mac    net.HardwareAddr
	arp    *arp.Client  // nil: no IPv4 address to announce when opened
	nd     *packet.Conn // nil: no IPv6 address to announce when opened
	router bool         // IPv6 forwarding is on: NAs carry the router flag
}

// fits reports whether s can announce ann's addresses on link.
func (s *sender) fits(ann announcement, link net.Interface) bool {
	if s.index != link.Index || !bytes.Equal(s.mac, link.HardwareAddr) {
		return false
	}
	for _, a := range ann.addrs {
		if a.Is4() && s.arp == nil || a.Is6() && s.nd == nil {
			return false
		}
	}
	return true
}

// senderFor returns the open sender of ann's netdev, opening (or
// replacing) it when it does not fit. l.mu must be held.
func (l *lab) senderFor(ann announcement, link net.Interface) (*sender, error) {
	if s, ok := l.senders[ann.netdev]; ok {
		if s.fits(ann, link) {
			return s, nil
		}
		s.Close()
		delete(l.senders, ann.netdev)
	}
	s, err := l.openSender(ann, link)
	if err != nil {
		return nil, err
	}
	l.senders[ann.netdev] = s
	return s, nil
}

// closeSenders closes the open senders of netdevs not in keep (nil: all).
// l.mu must be held.
func (l *lab) closeSenders(keep func(netdev string) bool) {
	for netdev, s := range l.senders {
		if keep == nil || !keep(netdev) {
			s.Close()
			delete(l.senders, netdev)
		}
	}
}

// openSender opens the sockets for ann on link (index, name and hardware
// address as the managed namespace knows them). It uses no netlink handle.
func (l *lab) openSender(ann announcement, link net.Interface) (*sender, error) {
	s := &sender{index: link.Index, mac: link.HardwareAddr}
	if len(s.mac) != 6 {
		return nil, fmt.Errorf("%s: hardware address %q is not an Ethernet address", ann.where(), s.mac)
	}
	var v4, v6 bool
	for _, a := range ann.addrs {
		v4, v6 = v4 || a.Is4(), v6 || a.Is6()
	}
	// Every socket is created in the managed namespace: ifindexes and
	// ifi.Addrs() (used by arp.New) are per namespace.
	err := l.inNetns(func() error {
		drop := &packet.Config{Filter: dropAll}
		if v4 {
			c, err := packet.Listen(&link, packet.Raw, unix.ETH_P_ARP, drop)
			if err != nil {
				return fmt.Errorf("packet socket for ARP: %w", err)
			}
			if s.arp, err = arp.New(&link, c); err != nil {
				c.Close()
				return fmt.Errorf("ARP client: %w", err)
			}
		}
		if v6 {
			c, err := packet.Listen(&link, packet.Raw, unix.ETH_P_IPV6, drop)
			if err != nil {
				return fmt.Errorf("packet socket for IPv6: %w", err)
			}
			s.nd = c
			s.router = ipv6Forwarding(link.Name)
		}
		return nil
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", ann.where(), err)
	}
	return s, nil
}

// dropAll is a socket filter that accepts no packet.
var dropAll = func() []bpf.RawInstruction {
	raw, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		panic(err)
	}
	return raw
}()

// ipv6Forwarding reads the netdev's IPv6 forwarding setting in the calling
// thread's network namespace. A unit that cannot tell says it is a router:
// a firewall forwards.
func ipv6Forwarding(netdev string) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + netdev + "/forwarding")
	if err != nil {
		return true
	}
	return strings.TrimSpace(string(b)) != "0"
}

// Close closes the sender's sockets.
func (s *sender) Close() {
	if s.arp != nil {
		s.arp.Close()
	}
	if s.nd != nil {
		s.nd.Close()
	}
}

// send announces every address of ann once for which held (nil: all)
// reports true, and returns one error per failed address.
func (s *sender) send(ann announcement, held func(netip.Addr) bool) []error {
	var errs []error
	for _, a := range ann.addrs {
		if held != nil && !held(a) {
			continue
		}
		var err error
		if a.Is4() {
			err = s.sendGARP(a)
		} else {
			err = s.sendNA(a)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: announcing %s: %w", ann.where(), a, err))
		}
	}
	return errs
}

// sendGARP broadcasts a gratuitous ARP request for a: sender and target
// protocol address a, sender hardware address the port's MAC, target
// hardware address zero (RFC 5227 section 3; what Linux sends itself).
func (s *sender) sendGARP(a netip.Addr) error {
	p, err := arp.NewPacket(arp.OperationRequest, s.mac, a, ethZero, a)
	if err != nil {
		return err
	}
	return s.arp.WriteTo(p, ethBroadcast)
}

// sendNA sends an unsolicited neighbour advertisement for a to all nodes
// (RFC 4861 section 7.2.6): override set, solicited clear, the port's MAC
// as target link-layer address, source address a itself, hop limit 255.
func (s *sender) sendNA(a netip.Addr) error {
	frame, err := naFrame(s.mac, a, s.router)
	if err != nil {
		return err
	}
	_, err = s.nd.WriteTo(frame, &packet.Addr{HardwareAddr: ipv6AllNodesMAC})
	return err
}

// naFrame builds the Ethernet frame of an unsolicited neighbour
// advertisement for target from mac.
func naFrame(mac net.HardwareAddr, target netip.Addr, router bool) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Router:        router,
		Override:      true,
		TargetAddress: target,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
	icmp, err := ndp.MarshalMessageChecksum(na, target, ipv6AllNodes)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 14+40, 14+40+len(icmp))
	copy(b[0:6], ipv6AllNodesMAC)
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:14], unix.ETH_P_IPV6)
	ip := b[14:]
	ip[0] = 6 << 4 // version 6, traffic class and flow label 0
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(icmp)))
	ip[6] = unix.IPPROTO_ICMPV6
	ip[7] = 255 // neighbour discovery requires hop limit 255
	src, dst := target.As16(), ipv6AllNodes.As16()
	copy(ip[8:24], src[:])
	copy(ip[24:40], dst[:])
	return append(b, icmp...), nil
}

// inNetns runs fn on an OS thread that is in the managed network namespace
// (TANDEM_LAB_NETNS), or directly when the plugin manages its own. Sockets
// created by fn stay in that namespace. The thread goes back to the
// scheduler only after it has returned to the plugin's namespace; if that
// fails it stays locked and ends with its goroutine.
func (l *lab) inNetns(fn func() error) error {
	if l.ns == nil {
		return fn()
	}
	return withNetns(*l.ns, l.nsName, fn)
}

// withNetns runs fn on a locked OS thread in network namespace ns (called
// name in errors), see lab.inNetns.
func withNetns(ns netns.NsHandle, name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread() // setns failed: still in orig
			errc <- fmt.Errorf("enter network namespace %q: %w", name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Stuck in the managed namespace: the thread stays locked and
			// is destroyed when this goroutine ends.
			errc <- errors.Join(ferr, fmt.Errorf("return from network namespace %q: %w", name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// linkInterface describes the netdev for the packet and ARP packages.
func (l *lab) linkInterface(netdev string) (net.Interface, bool, error) {
	link, err := l.h.LinkByName(netdev)
	if err != nil {
		return net.Interface{}, false, err
	}
	a := link.Attrs()
	return net.Interface{
		Index:        a.Index,
		MTU:          a.MTU,
		Name:         a.Name,
		HardwareAddr: a.HardwareAddr,
		Flags:        a.Flags,
	}, a.Flags&net.FlagUp != 0, nil
}

// announce sends the first round of announcements for anns now, on the
// netdevs' open senders, and the rest of the burst from a goroutine, and
// returns the first round's failures as warnings (also logged). l.mu must
// be held.
func (l *lab) announce(anns []announcement) []string {
	var warnings []string
	warn := func(err error) {
		l.log.Warn("address announcement failed", "error", err)
		warnings = append(warnings, err.Error())
	}
	var sent []announcement
	for _, ann := range anns {
		ifi, up, err := l.linkInterface(ann.netdev)
		if err != nil {
			warn(fmt.Errorf("%s: %w", ann.where(), err))
			continue
		}
		if !up {
			continue
		}
		s, err := l.senderFor(ann, ifi)
		if err != nil {
			warn(err)
			continue
		}
		for _, err := range s.send(ann, nil) {
			warn(err)
		}
		l.log.Info("announced addresses", "port", ann.port, "netdev", ann.netdev, "addresses", ann.addrs, "mac", s.mac.String())
		sent = append(sent, ann)
	}
	if len(sent) == 0 {
		return warnings
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(announceGap)
		defer t.Stop()
		for range announceCount - 1 {
			select {
			case <-l.done:
				return
			case <-t.C:
			}
			l.announceHeld(sent)
		}
	}()
	return warnings
}

// announceHeld sends one more round of anns on the netdevs' open senders,
// leaving out every address the last Apply gave up meanwhile (demoted
// again: the peer owns it now).
func (l *lab) announceHeld(anns []announcement) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ann := range anns {
		s, ok := l.senders[ann.netdev]
		if !ok {
			continue // the netdev went away
		}
		for _, err := range s.send(ann, func(a netip.Addr) bool { return l.held[ann.netdev][a] }) {
			l.log.Warn("address announcement failed", "error", err)
		}
	}
}

// setRefresh starts, changes or stops the periodic refresh. l.mu must be
// held.
func (l *lab) setRefresh(every time.Duration) {
	if every == l.refreshEvery {
		return
	}
	if l.refreshStop != nil {
		close(l.refreshStop)
		l.refreshStop = nil
	}
	l.refreshEvery = every
	if every <= 0 {
		return
	}
	stop := make(chan struct{})
	l.refreshStop = stop
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-l.done:
				return
			case <-t.C:
				l.refresh(stop)
			}
		}
	}()
}

// refresh announces every address held on an up port once.
func (l *lab) refresh(stop <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-stop: // turned off while waiting for the lock
		return
	default:
	}
	for _, ann := range l.heldAnnouncements() {
		ifi, up, err := l.linkInterface(ann.netdev)
		if err != nil || !up {
			continue
		}
		s, err := l.senderFor(ann, ifi)
		if err != nil {
			l.log.Warn("address refresh failed", "error", err)
			continue
		}
		for _, err := range s.send(ann, nil) {
			l.log.Warn("address refresh failed", "error", err)
		}
	}
}

// heldAnnouncements lists the held addresses per port, sorted. l.mu must
// be held.
func (l *lab) heldAnnouncements() []announcement {
	var anns []announcement
	for netdev, addrs := range l.held {
		ann := announcement{port: l.ports[netdev], netdev: netdev}
		for a := range addrs {
			ann.addrs = append(ann.addrs, a)
		}
		slices.SortFunc(ann.addrs, netip.Addr.Compare)
		anns = append(anns, ann)
	}
	slices.SortFunc(anns, func(a, b announcement) int { return cmpStr(a.netdev, b.netdev) })
	return anns
}
