package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/platforms/internal/hostfw"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// lab implements sdk.Plugin for the lab platform.
type lab struct {
	log    *slog.Logger
	nsName string
	ns     *netns.NsHandle // nil: the plugin's own namespace

	// mu guards h (netlink handles are not for concurrent use), ports,
	// changed, held, senders and the refresh fields, and serialises Apply.
	mu  sync.Mutex
	h   *netlink.Handle
	nft *nftables.Conn
	// role is the role of the last applied intent, "" before the first.
	role    string
	ports   map[string]string // netdev -> port name, from the last intent
	changed chan struct{}     // closed when ports changes
	// held are the addresses Apply left on each admin-up port: what the
	// rest of a burst and the periodic refresh may announce.
	held map[string]map[netip.Addr]bool
	// senders are the open announcement sockets, by netdev.
	senders      map[string]*sender
	refreshEvery time.Duration // 0: no periodic refresh
	refreshStop  chan struct{} // closed to stop the refresh goroutine

	done chan struct{}  // closed by Close: background senders stop
	wg   sync.WaitGroup // background senders
}

func newLab(nsName string, log *slog.Logger) (*lab, error) {
	l := &lab{
		log: log, nsName: nsName, ports: map[string]string{}, changed: make(chan struct{}),
		held: map[string]map[netip.Addr]bool{}, senders: map[string]*sender{}, done: make(chan struct{}),
	}
	if nsName == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
		l.h = h
		if l.nft, err = nftables.New(); err != nil {
			h.Close()
			return nil, fmt.Errorf("nftables: %w", err)
		}
		return l, nil
	}
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		return nil, fmt.Errorf("network namespace %q (from %s): %w", nsName, EnvNetns, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in namespace %q: %w", nsName, err)
	}
	l.ns, l.h = &ns, h
	if l.nft, err = nftables.New(nftables.WithNetNSFd(int(ns))); err != nil {
		l.Close()
		return nil, fmt.Errorf("nftables in namespace %q: %w", nsName, err)
	}
	return l, nil
}

// Close stops the background announcements and releases the handles.
func (l *lab) Close() {
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	l.closeSenders(nil)
	l.mu.Unlock()
	l.h.Close()
	if l.ns != nil {
		l.ns.Close()
	}
}

// Describe implements sdk.Plugin.
func (l *lab) Describe(context.Context) (*sdk.Info, error) {
	return &sdk.Info{Name: "lab", Kind: sdk.KindPlatform, Version: version, Platforms: []string{"lab"}}, nil
}

// portPlan is a validated Port.
type portPlan struct {
	port  *sdk.Port
	link  netlink.Link
	mac   net.HardwareAddr
	addrs map[string]*net.IPNet // canonical "ip/len" -> address
	// vmac and vaddrs are the virtual MAC child's (TKO-2, vmac.go).
	vmac   net.HardwareAddr
	vaddrs map[string]*net.IPNet
	// bounce: take the port down and up again (TKO-4).
	bounce bool
}

// Apply implements sdk.Plugin: every port's netdev gets the intent's admin
// state, hardware address and exact set of global-scope addresses; an
// unconfigured port only loses its global addresses. Nothing
// is changed when the kernel already matches, so a repeated Apply reports 0.
//
// Addresses Apply adds to an up port (and all addresses of a port it
// brings up or gives a new MAC) are announced on the segment (TKO-3, see
// announce.go), also when a later port fails; a failed announcement is a
// warning of the result, not an error. Addresses already held are not announced again
// except by the periodic refresh of PlatformSpec.garp_interval_seconds.
func (l *lab) Apply(ctx context.Context, in *sdk.Intent) (*sdk.ApplyResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	// Validate everything before changing anything.
	var plans []portPlan
	seenPort, seenDev := map[string]bool{}, map[string]bool{}
	for _, p := range in.GetPlatform().GetPorts() {
		where := fmt.Sprintf("port %s (netdev %q)", p.GetName(), p.GetNetdev())
		if p.GetName() == "" || p.GetNetdev() == "" {
			return nil, fmt.Errorf("%s: port name and netdev are required", where)
		}
		if seenPort[p.GetName()] || seenDev[p.GetNetdev()] {
			return nil, fmt.Errorf("%s: port or netdev given twice", where)
		}
		seenPort[p.GetName()], seenDev[p.GetNetdev()] = true, true
		link, err := l.h.LinkByName(p.GetNetdev())
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				if p.GetUnconfigured() {
					continue // a port of the map this unit does not have
				}
				return nil, fmt.Errorf("%s: no such netdev%s", where, l.inNs())
			}
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		plan := portPlan{port: p, link: link}
		if p.GetMac() != "" {
			mac, err := net.ParseMAC(p.GetMac())
			if err != nil {
				return nil, fmt.Errorf("%s: mac: %w", where, err)
			}
			plan.mac = mac
		}
		if plan.addrs, err = parseAddrs(where, p.GetAddresses()); err != nil {
			return nil, err
		}
		if p.GetVirtualMac() != "" {
			if plan.vmac, err = net.ParseMAC(p.GetVirtualMac()); err != nil {
				return nil, fmt.Errorf("%s: virtual mac: %w", where, err)
			}
			if plan.vaddrs, err = parseAddrs(where, p.GetVirtualAddresses()); err != nil {
				return nil, err
			}
		}
		plans = append(plans, plan)
	}

	ports := make(map[string]string, len(plans))
	for _, pl := range plans {
		ports[pl.port.GetNetdev()] = pl.port.GetName()
	}
	if !mapsEqual(ports, l.ports) {
		l.ports = ports
		close(l.changed)
		l.changed = make(chan struct{})
	}

	// Becoming active (not merely starting as active) bounces the data
	// ports when the intent asks for it (TKO-4).
	takeover := in.GetRole() == sdk.RoleActive && l.role != "" && l.role != sdk.RoleActive
	if takeover && in.GetPlatform().GetBounceOnTakeover() {
		for i := range plans {
			p := plans[i].port
			plans[i].bounce = p.GetAdminUp() && !p.GetHaLink() && !p.GetUnconfigured()
		}
	}
	res := &sdk.ApplyResult{}
	var anns []announcement
	// Whatever was added is announced, even if a later step fails: the
	// retry would find the addresses held and not announce them. On
	// success the announcements go out as soon as the addresses are in
	// place, before the host firewall is compared, which a takeover does
	// not change.
	announced := false
	defer func() {
		if !announced {
			l.announce(anns)
		}
	}()
	for _, pl := range plans {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, added, err := l.applyPort(pl)
		res.Changes += uint32(n)
		if len(added) > 0 {
			anns = append(anns, announcement{port: pl.port.GetName(), netdev: pl.port.GetNetdev(), addrs: added})
		}
		if err != nil {
			return nil, fmt.Errorf("port %s (netdev %q): %w (after %d changes)", pl.port.GetName(), pl.port.GetNetdev(), err, res.Changes)
		}
	}
	for _, pl := range plans {
		n, added, err := l.applyChild(pl)
		res.Changes += uint32(n)
		if len(added) > 0 {
			anns = append(anns, announcement{port: pl.port.GetName(), netdev: childName(pl.port.GetNetdev()), addrs: added})
		}
		if err != nil {
			return nil, fmt.Errorf("port %s (netdev %q): %w (after %d changes)", pl.port.GetName(), pl.port.GetNetdev(), err, res.Changes)
		}
	}
	res.Warnings = append(res.Warnings, l.announce(anns)...)
	announced = true
	for netdev := range l.held {
		if _, ok := ports[netdev]; !ok && !isChildOf(netdev, ports) {
			delete(l.held, netdev)
		}
	}
	l.closeSenders(func(netdev string) bool {
		_, ok := ports[netdev]
		return ok || isChildOf(netdev, ports)
	})
	l.setRefresh(time.Duration(in.GetPlatform().GetGarpIntervalSeconds()) * time.Second)
	n, err := hostfw.Apply(l.nft, in.GetPlatform().GetFirewall())
	res.Changes += uint32(n)
	if err != nil {
		return nil, fmt.Errorf("%w (after %d changes)", err, res.Changes)
	}
	l.role = in.GetRole()
	l.log.Info("applied intent", "revision", in.GetRevision(), "role", in.GetRole(), "ports", len(plans), "changes", res.Changes)
	return res, nil
}

// parseAddrs parses a port's addresses into canonical "ip/len" keys.
func parseAddrs(where string, list []string) (map[string]*net.IPNet, error) {
	out := map[string]*net.IPNet{}
	for _, a := range list {
		ip, ipnet, err := net.ParseCIDR(a)
		if err != nil {
			return nil, fmt.Errorf("%s: address: %w", where, err)
		}
		if kernelLinkLocal(ip) {
			return nil, fmt.Errorf("%s: address %s: IPv6 link-local addresses belong to the kernel and are not managed", where, a)
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		n := &net.IPNet{IP: ip, Mask: ipnet.Mask}
		out[addrKey(n)] = n
	}
	return out, nil
}

// isChildOf reports whether netdev is the virtual MAC child of a port.
func isChildOf(netdev string, ports map[string]string) bool {
	for parent := range ports {
		if childName(parent) == netdev {
			return true
		}
	}
	return false
}

func (l *lab) inNs() string {
	if l.nsName == "" {
		return " in the plugin's network namespace"
	}
	return fmt.Sprintf(" in network namespace %q", l.nsName)
}

// applyPort converges one netdev and returns the number of kernel changes
// and the addresses to announce: those it added to an up port, or all of
// the port's addresses when it brought the port up or changed its MAC. It
// records what the port holds in l.held.
func (l *lab) applyPort(pl portPlan) (changes int, announce []netip.Addr, err error) {
	netdev := pl.port.GetNetdev()
	delete(l.held, netdev) // until converged
	attrs := pl.link.Attrs()
	if pl.port.GetUnconfigured() {
		changes, _, err = l.convergeAddrs(pl, changes)
		return changes, nil, err
	}
	// A new MAC makes every address of the port worth announcing: the
	// neighbours' entries point to the old one.
	announceAll := false
	if pl.mac != nil && !bytes.Equal(attrs.HardwareAddr, pl.mac) {
		if err := l.h.LinkSetHardwareAddr(pl.link, pl.mac); err != nil {
			return changes, nil, fmt.Errorf("set mac %s: %w", pl.mac, err)
		}
		changes++
		announceAll = true
	}
	if pl.bounce && attrs.Flags&net.FlagUp != 0 {
		if err := l.h.LinkSetDown(pl.link); err != nil {
			return changes, nil, fmt.Errorf("bounce (down): %w", err)
		}
		if err := l.h.LinkSetUp(pl.link); err != nil {
			return changes, nil, fmt.Errorf("bounce (up): %w", err)
		}
		changes += 2
		announceAll = true // the kernel may have dropped IPv6 addresses too
	}
	if up := attrs.Flags&net.FlagUp != 0; up != pl.port.GetAdminUp() {
		var err error
		if pl.port.GetAdminUp() {
			err = l.h.LinkSetUp(pl.link)
		} else {
			err = l.h.LinkSetDown(pl.link)
		}
		if err != nil {
			return changes, nil, fmt.Errorf("set admin up=%t: %w", pl.port.GetAdminUp(), err)
		}
		changes++
		announceAll = announceAll || pl.port.GetAdminUp()
	}
	changes, added, err := l.convergeAddrs(pl, changes)
	if !pl.port.GetAdminUp() {
		return changes, nil, err
	}
	held := map[netip.Addr]bool{}
	for _, n := range pl.addrs {
		held[ipAddr(n.IP)] = true
	}
	if announceAll && err == nil {
		added = added[:0]
		for a := range held {
			added = append(added, a)
		}
	}
	slices.SortFunc(added, netip.Addr.Compare)
	if err == nil {
		l.held[netdev] = held
		return changes, added, nil
	}
	// Partly converged: announce (and let the burst continue for) what
	// was added, nothing else.
	partial := map[netip.Addr]bool{}
	for _, a := range added {
		partial[a] = true
	}
	l.held[netdev] = partial
	return changes, added, err
}

// ipAddr converts a 4- or 16-byte IP address, unmapping IPv4.
func ipAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// convergeAddrs makes the netdev's global addresses exactly the plan's
// and returns changes plus the kernel changes it made, and the addresses it
// added. Deleting a primary IPv4 address can take its secondaries with it,
// so it converges in a few rounds until the kernel agrees.
func (l *lab) convergeAddrs(pl portPlan, changes int) (int, []netip.Addr, error) {
	var added []netip.Addr
	for range 3 {
		cur, err := l.h.AddrList(pl.link, netlink.FAMILY_ALL)
		if err != nil {
			return changes, added, fmt.Errorf("list addresses: %w", err)
		}
		have := map[string]netlink.Addr{}
		for _, a := range cur {
			if a.Scope != unix.RT_SCOPE_UNIVERSE || kernelLinkLocal(a.IP) {
				continue // never touch the kernel's IPv6 link-local (or host-scope) addresses
			}
			have[addrKey(a.IPNet)] = a
		}
		var missing []*net.IPNet
		for k, n := range pl.addrs {
			if _, ok := have[k]; !ok {
				missing = append(missing, n)
			}
		}
		var extra []netlink.Addr
		for k, a := range have {
			if _, ok := pl.addrs[k]; !ok {
				extra = append(extra, a)
			}
		}
		if len(missing) == 0 && len(extra) == 0 {
			return changes, added, nil
		}
		slices.SortFunc(missing, func(a, b *net.IPNet) int { return cmpStr(addrKey(a), addrKey(b)) })
		for _, n := range missing {
			a := &netlink.Addr{IPNet: n}
			if n.IP.To4() == nil {
				// No duplicate address detection: a virtual address moves
				// between units, and its announcement must not precede it.
				a.Flags = unix.IFA_F_NODAD
			}
			if err := l.h.AddrAdd(pl.link, a); err != nil {
				return changes, added, fmt.Errorf("add address %s: %w", addrKey(n), err)
			}
			changes++
			if a := ipAddr(n.IP); !slices.Contains(added, a) {
				added = append(added, a)
			}
		}
		for _, a := range extra {
			if err := l.h.AddrDel(pl.link, &a); err != nil {
				if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) {
					continue // went away with its primary
				}
				return changes, added, fmt.Errorf("remove address %s: %w", addrKey(a.IPNet), err)
			}
			changes++
		}
	}
	return changes, added, errors.New("addresses did not converge")
}

// kernelLinkLocal reports an IPv6 link-local address (fe80::/10), which
// the kernel assigns itself. IPv4 link-local addresses (169.254/16), as HA
// links often use, are managed like any other.
func kernelLinkLocal(ip net.IP) bool { return ip.To4() == nil && ip.IsLinkLocalUnicast() }

func addrKey(n *net.IPNet) string {
	ones, _ := n.Mask.Size()
	return n.IP.String() + "/" + strconv.Itoa(ones)
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// linkState is what a LinkEvent reports.
type linkState struct {
	up  bool
	mac string
}

func stateOf(link netlink.Link) linkState {
	a := link.Attrs()
	return linkState{
		up:  a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_LOWER_UP != 0,
		mac: a.HardwareAddr.String(),
	}
}

// Watch implements sdk.Plugin: a netlink link subscription (events as they
// happen, no polling) reports carrier changes of the ports of the last
// intent. On subscription, and whenever an intent changes the port map, the
// current state of every port is reported once.
func (l *lab) Watch(ctx context.Context, emit func(*sdk.Observation)) error {
	updates := make(chan netlink.LinkUpdate, 256)
	done := make(chan struct{})
	errCh := make(chan error, 1)
	opts := netlink.LinkSubscribeOptions{
		Namespace:         l.ns,
		ReceiveBufferSize: 1 << 20,
		ErrorCallback: func(err error) {
			select {
			case errCh <- err:
			default:
			}
		},
	}
	if err := netlink.LinkSubscribeWithOptions(updates, done, opts); err != nil {
		return fmt.Errorf("netlink link subscription%s: %w", l.inNs(), err)
	}
	defer func() {
		close(done)
		for range updates { // the subscription closes it
		}
	}()

	last := map[string]linkState{} // netdev -> reported state
	report := func(netdev, port string, st linkState) {
		if prev, ok := last[netdev]; ok && prev == st {
			return
		}
		last[netdev] = st
		emit(sdk.NewLinkObservation(time.Now(), &sdk.LinkEvent{Port: port, Netdev: netdev, Up: st.up, Mac: st.mac}))
	}
	rescan := func() <-chan struct{} {
		type obs struct {
			netdev, port string
			st           linkState
		}
		var found []obs
		l.mu.Lock()
		changed := l.changed
		for netdev, port := range l.ports {
			if link, err := l.h.LinkByName(netdev); err == nil {
				found = append(found, obs{netdev, port, stateOf(link)})
			}
		}
		ports := l.ports
		l.mu.Unlock()
		for netdev := range last {
			if _, ok := ports[netdev]; !ok {
				delete(last, netdev)
			}
		}
		for _, o := range found {
			report(o.netdev, o.port, o.st)
		}
		return changed
	}
	changed := rescan()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			changed = rescan()
		case err := <-errCh:
			l.log.Warn("netlink subscription error", "error", err)
		case u, ok := <-updates:
			if !ok {
				select {
				case err := <-errCh:
					return fmt.Errorf("netlink link subscription ended: %w", err)
				default:
					return errors.New("netlink link subscription ended")
				}
			}
			netdev := u.Link.Attrs().Name
			l.mu.Lock()
			port, ok := l.ports[netdev]
			l.mu.Unlock()
			if !ok {
				continue
			}
			st := stateOf(u.Link)
			if u.Header.Type == unix.RTM_DELLINK {
				st.up = false
			}
			report(netdev, port, st)
		}
	}
}
