package conntrack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// LocalAddrs is the set of addresses configured on the unit's interfaces,
// kept current from rtnetlink address notifications (addresses come and
// go: DHCP, virtual IPs moving at takeover). Loopback addresses are
// always local.
type LocalAddrs struct {
	mu sync.RWMutex
	// addrs counts, per address, the interfaces that carry it.
	addrs map[netip.Addr]map[uint32]struct{}
}

// NewLocalAddrs reads the addresses of network namespace netns (a file
// descriptor, 0 for the caller's own) and follows their changes until ctx
// ends. After a notification overrun it reads them all again.
func NewLocalAddrs(ctx context.Context, netns int, log *slog.Logger) (*LocalAddrs, error) {
	if log == nil {
		log = slog.Default()
	}
	events, err := dialNetlink(unix.NETLINK_ROUTE, netns, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR)
	if err != nil {
		return nil, fmt.Errorf("local addresses: %w", err)
	}
	l := &LocalAddrs{}
	if err := l.reload(ctx, netns); err != nil {
		events.Close()
		return nil, err
	}
	go func() {
		defer events.Close()
		for {
			b, err := events.recv(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, unix.ENOBUFS):
				log.Warn("statesync conntrack: address notifications overran, reloading")
				if err := l.reload(ctx, netns); err != nil {
					log.Error("statesync conntrack: reload local addresses", "err", err)
				}
				continue
			case err != nil:
				log.Error("statesync conntrack: address notifications stopped", "err", err)
				return
			}
			_ = eachMessage(b, func(h nlHeader, p []byte) error {
				if h.Type == unix.RTM_NEWADDR || h.Type == unix.RTM_DELADDR {
					l.apply(h.Type == unix.RTM_NEWADDR, p)
				}
				return nil
			})
		}
	}()
	return l, nil
}

// reload replaces the set with a fresh dump of the addresses.
func (l *LocalAddrs) reload(ctx context.Context, netns int) error {
	q, err := dialNetlink(unix.NETLINK_ROUTE, netns)
	if err != nil {
		return fmt.Errorf("local addresses: %w", err)
	}
	defer q.Close()
	fresh := &LocalAddrs{}
	if err := q.dump(ctx, unix.RTM_GETADDR, unix.AF_UNSPEC, func(p []byte) error {
		fresh.apply(true, p)
		return nil
	}); err != nil {
		return fmt.Errorf("local addresses: %w", err)
	}
	l.mu.Lock()
	l.addrs = fresh.addrs
	l.mu.Unlock()
	return nil
}

// apply adds or removes the address of an ifaddrmsg payload.
func (l *LocalAddrs) apply(add bool, p []byte) {
	const ifaddrmsgLen = 8
	if len(p) < ifaddrmsgLen {
		return
	}
	index := uint32(p[4]) | uint32(p[5])<<8 | uint32(p[6])<<16 | uint32(p[7])<<24
	var addr, local netip.Addr
	it := newAttrIter(p[ifaddrmsgLen:])
	for it.next() {
		a, ok := netip.AddrFromSlice(it.data)
		if !ok {
			continue
		}
		switch it.typ {
		case unix.IFA_ADDRESS:
			addr = a
		case unix.IFA_LOCAL:
			local = a
		}
	}
	if local.IsValid() { // point-to-point: IFA_ADDRESS is the peer
		addr = local
	}
	if !addr.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil {
		l.addrs = map[netip.Addr]map[uint32]struct{}{}
	}
	ifs := l.addrs[addr]
	if add {
		if ifs == nil {
			ifs = map[uint32]struct{}{}
			l.addrs[addr] = ifs
		}
		ifs[index] = struct{}{}
		return
	}
	delete(ifs, index)
	if len(ifs) == 0 {
		delete(l.addrs, addr)
	}
}

// Contains reports whether a is an address of the unit.
func (l *LocalAddrs) Contains(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	l.mu.RLock()
	_, ok := l.addrs[a]
	l.mu.RUnlock()
	return ok
}
