package stream

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

var testKey = []byte("the cluster pre-shared key")

func testLogger() *slog.Logger {
	if os.Getenv("STREAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// unit is one side of a test pair.
type unit struct {
	t      testing.TB
	ep     *Endpoint
	ch     *memChannel
	conn   *net.UDPConn
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	events []Event
}

// start creates and runs an endpoint on conn talking to peer.
func start(t testing.TB, conn *net.UDPConn, peer netip.AddrPort, ch *memChannel, role Role, mod func(*Config)) *unit {
	t.Helper()
	u := &unit{t: t, ch: ch, conn: conn, done: make(chan struct{})}
	cfg := Config{Conn: conn, Peer: peer, Key: testKey, Logger: testLogger(), Keepalive: 50 * time.Millisecond,
		PeerTimeout: time.Second, OnEvent: func(ev Event) { u.mu.Lock(); u.events = append(u.events, ev); u.mu.Unlock() }}
	if mod != nil {
		mod(&cfg)
	}
	ep, err := New(cfg, Channel{Source: ch, Sink: ch})
	if err != nil {
		t.Fatal(err)
	}
	u.ep = ep
	ep.SetRole(role)
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	go func() {
		defer close(u.done)
		if err := ep.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(u.stop)
	return u
}

// stop ends the unit's Run and waits for it.
func (u *unit) stop() {
	u.cancel()
	<-u.done
}

// countEvents counts the unit's events of a type.
func (u *unit) countEvents(typ string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, ev := range u.events {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// eventList copies the unit's events.
func (u *unit) eventList() []Event {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Event(nil), u.events...)
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitEqual waits until the standby's channel equals the active's.
func waitEqual(t testing.TB, active, standby *unit, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := active.ch.diff(standby.ch)
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby differs from active after %v: %s\nactive %+v\nstandby %+v", timeout, d, active.ep.Stats(), standby.ep.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pair starts an active and a standby unit over loopback, directly or through a relay.
func pair(t testing.TB, r *relay, mod func(*Config)) (active, standby *unit) {
	t.Helper()
	ca, cb := listen(t), listen(t)
	pa, pb := addrOf(cb), addrOf(ca)
	if r != nil {
		pa, pb = r.attach(t, addrOf(ca), addrOf(cb))
	}
	active = start(t, ca, pa, newMem("conntrack"), RoleActive, mod)
	standby = start(t, cb, pb, newMem("conntrack"), RoleStandby, mod)
	return active, standby
}

// relay forwards datagrams between two units and can drop, record and inject them.
type relay struct {
	// drop decides, per datagram from A (toB) or from B, whether it is dropped.
	drop func(toB bool, b []byte) bool

	mu       sync.Mutex
	ra, rb   *net.UDPConn // facing A, facing B
	a, b     netip.AddrPort
	recorded [][]byte     // datagrams from A to B
	bytesAB  []timedBytes // for the throttle test
	dropped  int
}

type timedBytes struct {
	at time.Time
	n  int
}

// attach opens the relay's sockets; it returns the peer addresses A and B must use.
func (r *relay) attach(t testing.TB, a, b netip.AddrPort) (peerOfA, peerOfB netip.AddrPort) {
	r.ra, r.rb, r.a, r.b = listen(t), listen(t), a, b
	go r.forward(r.ra, r.rb, b, true)
	go r.forward(r.rb, r.ra, a, false)
	t.Cleanup(func() { r.ra.Close(); r.rb.Close() })
	return addrOf(r.ra), addrOf(r.rb)
}

func (r *relay) forward(in, out *net.UDPConn, to netip.AddrPort, toB bool) {
	buf := make([]byte, 65536)
	for {
		n, _, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		r.mu.Lock()
		drop := r.drop != nil && r.drop(toB, b)
		if toB {
			r.recorded = append(r.recorded, b)
			if !drop && dataSeq(b) != 0 {
				r.bytesAB = append(r.bytesAB, timedBytes{time.Now(), n})
			}
		}
		if drop {
			r.dropped++
		}
		r.mu.Unlock()
		if !drop {
			_, _ = out.WriteToUDPAddrPort(b, to)
		}
	}
}

// injectToB sends b to unit B from the relay's address B trusts.
func (r *relay) injectToB(b []byte) { _, _ = r.rb.WriteToUDPAddrPort(b, r.b) }

// dataSeq returns the data sequence number of a plain (HMAC) data datagram, 0 for others.
func dataSeq(b []byte) uint64 {
	h, plen, err := frame.ParseHeader(b)
	if err != nil || h.Type != frame.TypeData || h.Encrypted || plen < 16 {
		return 0
	}
	return binary.BigEndian.Uint64(b[frame.HeaderSize:])
}
