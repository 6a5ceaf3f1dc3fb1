package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

	// mu guards h (netlink handles are not for concurrent use), ports and
	// changed, and serialises Apply.
	mu      sync.Mutex
	h       *netlink.Handle
	nft     *nftables.Conn
	ports   map[string]string // netdev -> port name, from the last intent
	changed chan struct{}     // closed when ports changes
}

func newLab(nsName string, log *slog.Logger) (*lab, error) {
	l := &lab{log: log, nsName: nsName, ports: map[string]string{}, changed: make(chan struct{})}
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

func (l *lab) Close() {
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
}

// Apply implements sdk.Plugin: every port's netdev gets the intent's admin
// state, hardware address and exact set of global-scope addresses; an
// unconfigured port only loses its global addresses. Nothing
// is changed when the kernel already matches, so a repeated Apply reports 0.
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
		plan := portPlan{port: p, link: link, addrs: map[string]*net.IPNet{}}
		if p.GetMac() != "" {
			mac, err := net.ParseMAC(p.GetMac())
			if err != nil {
				return nil, fmt.Errorf("%s: mac: %w", where, err)
			}
			plan.mac = mac
		}
		for _, a := range p.GetAddresses() {
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
			plan.addrs[addrKey(n)] = n
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

	res := &sdk.ApplyResult{}
	for _, pl := range plans {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := l.applyPort(pl)
		res.Changes += uint32(n)
		if err != nil {
			return nil, fmt.Errorf("port %s (netdev %q): %w (after %d changes)", pl.port.GetName(), pl.port.GetNetdev(), err, res.Changes)
		}
	}
	n, err := hostfw.Apply(l.nft, in.GetPlatform().GetFirewall())
	res.Changes += uint32(n)
	if err != nil {
		return nil, fmt.Errorf("%w (after %d changes)", err, res.Changes)
	}
	l.log.Info("applied intent", "revision", in.GetRevision(), "role", in.GetRole(), "ports", len(plans), "changes", res.Changes)
	return res, nil
}

func (l *lab) inNs() string {
	if l.nsName == "" {
		return " in the plugin's network namespace"
	}
	return fmt.Sprintf(" in network namespace %q", l.nsName)
}

// applyPort converges one netdev and returns the number of kernel changes.
func (l *lab) applyPort(pl portPlan) (int, error) {
	changes := 0
	attrs := pl.link.Attrs()
	if pl.port.GetUnconfigured() {
		return l.convergeAddrs(pl, changes)
	}
	if pl.mac != nil && !bytes.Equal(attrs.HardwareAddr, pl.mac) {
		if err := l.h.LinkSetHardwareAddr(pl.link, pl.mac); err != nil {
			return changes, fmt.Errorf("set mac %s: %w", pl.mac, err)
		}
		changes++
	}
	if up := attrs.Flags&net.FlagUp != 0; up != pl.port.GetAdminUp() {
		var err error
		if pl.port.GetAdminUp() {
			err = l.h.LinkSetUp(pl.link)
		} else {
			err = l.h.LinkSetDown(pl.link)
		}
		if err != nil {
			return changes, fmt.Errorf("set admin up=%t: %w", pl.port.GetAdminUp(), err)
		}
		changes++
	}
	return l.convergeAddrs(pl, changes)
}

// convergeAddrs makes the netdev's global addresses exactly the plan's
// and returns changes plus the kernel changes it made. Deleting a primary
// IPv4 address can take its secondaries with it, so it converges in a few
// rounds until the kernel agrees.
func (l *lab) convergeAddrs(pl portPlan, changes int) (int, error) {
	for range 3 {
		cur, err := l.h.AddrList(pl.link, netlink.FAMILY_ALL)
		if err != nil {
			return changes, fmt.Errorf("list addresses: %w", err)
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
			return changes, nil
		}
		slices.SortFunc(missing, func(a, b *net.IPNet) int { return cmpStr(addrKey(a), addrKey(b)) })
		for _, n := range missing {
			if err := l.h.AddrAdd(pl.link, &netlink.Addr{IPNet: n}); err != nil {
				return changes, fmt.Errorf("add address %s: %w", addrKey(n), err)
			}
			changes++
		}
		for _, a := range extra {
			if err := l.h.AddrDel(pl.link, &a); err != nil {
				if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) {
					continue // went away with its primary
				}
				return changes, fmt.Errorf("remove address %s: %w", addrKey(a.IPNet), err)
			}
			changes++
		}
	}
	return changes, errors.New("addresses did not converge")
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
