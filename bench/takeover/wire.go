package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// wireTap watches the server host's link for the probe stream's
// requests and records, per source MAC (the unit that forwarded them),
// when each arrived: the gap between the last request the old active
// put on the wire and the first the new one did is the takeover as the
// network sees it.
type wireTap struct {
	conn  *packet.Conn
	now   func() time.Duration
	mu    sync.Mutex
	last  map[string]time.Duration
	first map[string]time.Duration
	done  chan struct{}
}

// startTap opens a packet socket on eth0 of namespace ns; now is the
// stream's clock.
func startTap(ns string, now func() time.Duration) (*wireTap, error) {
	var c *packet.Conn
	if err := topo.InNetns(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_IP, nil)
		return err
	}); err != nil {
		return nil, fmt.Errorf("wire tap in %s: %w", ns, err)
	}
	w := &wireTap{conn: c, now: now, last: map[string]time.Duration{}, first: map[string]time.Duration{}, done: make(chan struct{})}
	_, port, _ := net.SplitHostPort(echoAddr)
	var echoPort uint16
	fmt.Sscan(port, &echoPort)
	go func() {
		defer close(w.done)
		buf := make([]byte, 2048)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return // closed (or broken: the gap is then unknown)
			}
			at := w.now()
			if src, ok := probeRequest(buf[:n], echoPort); ok {
				w.mu.Lock()
				if _, seen := w.first[src]; !seen {
					w.first[src] = at
				}
				w.last[src] = at
				w.mu.Unlock()
			}
		}
	}()
	return w, nil
}

// probeRequest reports whether frame is an IPv4 UDP datagram to port
// and returns its source MAC.
func probeRequest(frame []byte, port uint16) (string, bool) {
	if len(frame) < 14+20+8 || binary.BigEndian.Uint16(frame[12:14]) != unix.ETH_P_IP {
		return "", false
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[9] != unix.IPPROTO_UDP || len(ip) < ihl+8 {
		return "", false
	}
	if binary.BigEndian.Uint16(ip[ihl+2:ihl+4]) != port {
		return "", false
	}
	return net.HardwareAddr(frame[6:12]).String(), true
}

// gap is the time from the last request forwarded by oldMAC to the first
// forwarded by newMAC; false when either never forwarded one.
func (w *wireTap) gap(oldMAC, newMAC string) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok1 := w.last[oldMAC]
	first, ok2 := w.first[newMAC]
	return first - last, ok1 && ok2
}

// Close stops the tap.
func (w *wireTap) Close() {
	w.conn.Close()
	<-w.done
}

// wanMAC is the MAC a unit forwards with on the WAN segment: its x1v
// child when a virtual MAC is on, else x1.
func wanMAC(ns string) string {
	for _, dev := range []string{"x1v", "x1"} {
		out, err := exec.Command("ip", "-n", ns, "-br", "link", "show", dev).Output()
		if err == nil {
			if f := strings.Fields(string(out)); len(f) >= 3 {
				return f[2]
			}
		}
	}
	return ""
}

// heartbeatTap watches the standby's HA links (x2, and x3 where tandem
// also sends) for the active's heartbeats (tandem: UDP to port 8734;
// keepalived: VRRP, IP protocol 112) and records when the last one
// arrived: the start of the standby's dead interval.
type heartbeatTap struct {
	conns []*packet.Conn
	mu    sync.Mutex
	at    time.Duration
	seen  bool
	wg    sync.WaitGroup
}

// heartbeatDevs are the standby's ports that carry heartbeats.
var heartbeatDevs = []string{"x2", "x3"}

// startHeartbeatTap opens a packet socket on each HA port of namespace ns
// (the standby); now is the stream's clock. Heartbeats from the
// namespace's own addresses (its outgoing ones) are ignored.
func startHeartbeatTap(ns string, now func() time.Duration) (*heartbeatTap, error) {
	h := &heartbeatTap{}
	own := map[netip.Addr]bool{}
	err := topo.InNetns(ns, func() error {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				own[p.Addr()] = true
			}
		}
		for _, dev := range heartbeatDevs {
			ifi, err := net.InterfaceByName(dev)
			if err != nil {
				return err
			}
			c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_IP, nil)
			if err != nil {
				return err
			}
			h.conns = append(h.conns, c)
		}
		return nil
	})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("heartbeat tap in %s: %w", ns, err)
	}
	for _, c := range h.conns {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			buf := make([]byte, 2048)
			for {
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					return // closed
				}
				at := now()
				if src, ok := heartbeatSource(buf[:n]); ok && !own[src] {
					h.mu.Lock()
					h.at, h.seen = max(h.at, at), true
					h.mu.Unlock()
				}
			}
		}()
	}
	return h, nil
}

// heartbeatSource reports whether frame is an IPv4 heartbeat (UDP to port
// 8734, or VRRP) and returns its source address.
func heartbeatSource(frame []byte) (netip.Addr, bool) {
	if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:14]) != unix.ETH_P_IP {
		return netip.Addr{}, false
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl {
		return netip.Addr{}, false
	}
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	switch ip[9] {
	case 112: // VRRP
		return src, true
	case unix.IPPROTO_UDP:
		return src, len(ip) >= ihl+8 && binary.BigEndian.Uint16(ip[ihl+2:ihl+4]) == 8734
	}
	return netip.Addr{}, false
}

// last is the arrival of the last heartbeat from the peer (stream clock);
// false when none came.
func (h *heartbeatTap) last() (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.at, h.seen
}

// Close stops the tap.
func (h *heartbeatTap) Close() {
	for _, c := range h.conns {
		c.Close()
	}
	h.wg.Wait()
}
