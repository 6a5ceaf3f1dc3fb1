package probe

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/tandem-ha/tandem/plugins/sdk/freebind"
)

// ICMP protocol numbers, for icmp.ParseMessage.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// payload marks the prober's echo requests on the wire.
var payload = []byte("tandem-ha-probe")

// reply is an echo reply of this prober, as a reader saw it.
type reply struct {
	local, from netip.Addr
	seq         int
}

// sockets keeps one raw ICMP socket per source address. Everything but
// the readers runs on the Run goroutine.
type sockets struct {
	log     *slog.Logger
	id      int
	conns   map[netip.Addr]net.PacketConn
	errs    map[netip.Addr]string // last error per source, logged once
	replies chan reply
	done    chan struct{}
}

func newSockets(log *slog.Logger, id int) *sockets {
	return &sockets{
		log: log, id: id,
		conns: map[netip.Addr]net.PacketConn{}, errs: map[netip.Addr]string{},
		replies: make(chan reply, 64), done: make(chan struct{}),
	}
}

// sync opens the sockets of the sources in want that have none yet and
// closes those of sources no longer wanted. A source whose socket does
// not open is tried again at the next round.
func (s *sockets) sync(ctx context.Context, want map[netip.Addr]bool) {
	for src, c := range s.conns {
		if !want[src] {
			c.Close()
			delete(s.conns, src)
			delete(s.errs, src)
		}
	}
	for src := range want {
		if s.conns[src] != nil {
			continue
		}
		c, err := listen(ctx, src)
		if err != nil {
			s.fail(src, "probe socket not opened", err)
			continue
		}
		s.conns[src] = c
		go s.read(src, c)
	}
}

// send sends one echo request from src to dst and reports whether it left.
func (s *sockets) send(src, dst netip.Addr, seq int) bool {
	c := s.conns[src]
	if c == nil {
		return false
	}
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if src.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: s.id, Seq: seq, Data: payload}}
	b, err := msg.Marshal(nil) // the kernel sums ICMPv6 raw sockets
	if err == nil {
		_, err = c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()})
	}
	if err != nil {
		// Typically the source is not on the unit yet, or no route.
		s.fail(src, "probe not sent", err)
		return false
	}
	if _, failed := s.errs[src]; failed {
		s.log.Info("probe sent again", "source", src)
		delete(s.errs, src)
	}
	return true
}

// fail logs err for src once until it changes or the source recovers.
func (s *sockets) fail(src netip.Addr, msg string, err error) {
	if s.errs[src] == err.Error() {
		return
	}
	s.errs[src] = err.Error()
	s.log.Warn(msg, "source", src, "err", err)
}

// drain drops replies that came too late for their round.
func (s *sockets) drain() {
	for {
		select {
		case <-s.replies:
		default:
			return
		}
	}
}

// closeAll closes every socket and stops the readers.
func (s *sockets) closeAll() {
	close(s.done)
	for src, c := range s.conns {
		c.Close()
		delete(s.conns, src)
	}
}

// read hands the echo replies with this prober's identifier that arrive
// on c to s.replies, until c is closed.
func (s *sockets) read(local netip.Addr, c net.PacketConn) {
	proto, want := protoICMP, icmp.Type(ipv4.ICMPTypeEchoReply)
	if local.Is6() {
		proto, want = protoICMPv6, ipv6.ICMPTypeEchoReply
	}
	buf := make([]byte, 1500)
	for {
		n, peer, err := c.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond) // never spin on an odd error
			continue
		}
		ip, ok := peer.(*net.IPAddr)
		if !ok {
			continue
		}
		from, ok := netip.AddrFromSlice(ip.IP)
		m, err := icmp.ParseMessage(proto, buf[:n])
		if !ok || err != nil || m.Type != want {
			continue
		}
		echo, isEcho := m.Body.(*icmp.Echo)
		if !isEcho || echo.ID != s.id {
			continue // another pinger's reply
		}
		select {
		case s.replies <- reply{local: local, from: from.Unmap(), seq: echo.Seq}:
		case <-s.done:
			return
		}
	}
}

// listen opens a raw ICMP socket bound to src. IP_FREEBIND (IPV6_FREEBIND)
// lets it bind before the platform driver has put the address on the
// port; until then sends fail and the port counts as unreachable. Only
// echo replies pass the socket's ICMP filter.
func listen(ctx context.Context, src netip.Addr) (net.PacketConn, error) {
	network := "ip4:icmp"
	if src.Is6() {
		network = "ip6:ipv6-icmp"
	}
	lc := freebind.ListenConfig(src)
	c, err := lc.ListenPacket(ctx, network, src.String())
	if err != nil {
		return nil, err
	}
	if src.Is6() {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeEchoReply)
		_ = ipv6.NewPacketConn(c).SetICMPFilter(&f) // an optimisation only
	} else {
		var f ipv4.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv4.ICMPTypeEchoReply)
		_ = ipv4.NewPacketConn(c).SetICMPFilter(&f)
	}
	return c, nil
}
