package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// recvBurst is the most datagrams the loop takes in before it looks at its timers and
// sends.
const recvBurst = 64

// socketBuffer is the socket buffer size the endpoint asks for.
const socketBuffer = 4 << 20

// datagram is one datagram read from the socket.
type datagram struct {
	from netip.AddrPort
	b    []byte
}

// Run binds the socket and runs the endpoint until ctx ends; it returns nil then, and an
// error only when the socket cannot be set up. An address that does not exist yet
// (EADDRNOTAVAIL: the HA data link is being configured) is retried every second.
func (e *Endpoint) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("stream: Run called twice")
	}
	conn, err := e.listen(ctx)
	if err != nil || conn == nil {
		return err
	}
	// Room for a window of datagrams: best effort, the kernel caps it at rmem_max/wmem_max.
	_ = conn.SetReadBuffer(socketBuffer)
	_ = conn.SetWriteBuffer(socketBuffer)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	e.conn, e.runCtx = conn, ctx
	e.updateWatches()
	e.sendControl(e.peer.session, time.Now())
	e.mu.Unlock()
	e.log.Info("state sync stream running", "local", conn.LocalAddr(), "peer", e.cfg.Peer,
		"encrypt", e.cfg.Encrypt, "rate", e.cfg.Rate, "channels", len(e.chans))

	done := make(chan struct{}, 2)
	go func() { e.read(ctx, conn); done <- struct{}{} }()
	go func() { e.applyLoop(ctx); done <- struct{}{} }()
	e.loop(ctx)
	cancel()
	_ = conn.Close()
	<-done
	<-done
	e.mu.Lock()
	e.runCtx = nil
	e.updateWatches()
	e.tx.stop()
	e.conn = nil
	e.mu.Unlock()
	e.watchWG.Wait()
	return nil
}

// listen returns the socket: Config.Conn, or one bound to Config.Local.
func (e *Endpoint) listen(ctx context.Context) (*net.UDPConn, error) {
	if e.cfg.Conn != nil {
		return e.cfg.Conn, nil
	}
	logged := false
	for {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(e.cfg.Local))
		if err == nil {
			return conn, nil
		}
		if !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return nil, fmt.Errorf("stream: binding %v: %w", e.cfg.Local, err)
		}
		if !logged {
			e.log.Info("state sync: local address not there yet, retrying", "local", e.cfg.Local)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(time.Second):
		}
	}
}

// read passes datagrams from the socket to the loop.
func (e *Endpoint) read(ctx context.Context, conn *net.UDPConn) {
	buf := make([]byte, frame.MaxDatagram+1)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.Debug("state sync: read", "err", err)
			continue
		}
		d := datagram{from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), b: append([]byte(nil), buf[:n]...)}
		select {
		case e.dgrams <- d:
		case <-ctx.Done():
			return
		}
	}
}

// loop is the endpoint's single state machine goroutine.
func (e *Endpoint) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var d datagram
		var snap snapResult
		var got int // 1 datagram, 2 snapshot
		select {
		case <-ctx.Done():
			return
		case d = <-e.dgrams:
			got = 1
		case snap = <-e.snaps:
			got = 2
		case <-e.in.notify:
		case <-e.kick:
		case <-timer.C:
		}
		now := time.Now()
		e.mu.Lock()
		switch got {
		case 1:
			e.receive(d, now)
			for n := 1; n < recvBurst; n++ {
				select {
				case d = <-e.dgrams:
					e.receive(d, now)
				default:
					n = recvBurst
				}
			}
		case 2:
			e.onSnapshot(snap, now)
		}
		e.drainInbox(now)
		e.tick(now)
		e.pump(now)
		wait := e.nextWake(now).Sub(now)
		evs := e.events
		e.events = nil
		e.mu.Unlock()
		for _, ev := range evs {
			e.cfg.OnEvent(ev)
		}
		timer.Reset(max(wait, 100*time.Microsecond))
	}
}

// tick runs what is due at now.
func (e *Endpoint) tick(now time.Time) {
	e.keys.retire(now)
	if e.peer.up && now.Sub(e.peer.lastHeard) > e.cfg.PeerTimeout {
		e.peerDown(now)
	}
	if e.role == RoleStandby {
		e.rx.installed(e, now)
	}
	if e.role == RoleStandby && !e.rx.ackDue.IsZero() && !now.Before(e.rx.ackDue) {
		e.sendControl(e.peer.session, now)
	}
	if now.Sub(e.lastControl) >= e.cfg.Keepalive {
		e.sendControl(e.peer.session, now)
	}
	if e.tx.gen != 0 && !now.Before(e.tx.nextScan) {
		e.scanUnacked(now)
	}
	if e.tx.gen == 0 && e.canSend() && !now.Before(e.tx.retryAt) {
		e.startGeneration(now, e.tx.pendingReason)
	}
}

// nextWake is the earliest time something may be due.
func (e *Endpoint) nextWake(now time.Time) time.Time {
	if e.tx.more || len(e.dgrams) > 0 {
		return now
	}
	t := e.lastControl.Add(e.cfg.Keepalive)
	at := func(u time.Time) {
		if !u.IsZero() && u.Before(t) {
			t = u
		}
	}
	if e.peer.up {
		at(e.peer.lastHeard.Add(e.cfg.PeerTimeout + time.Millisecond))
	}
	if e.keys.previous != nil {
		at(e.keys.retireAt)
	}
	if e.role == RoleStandby {
		at(e.rx.ackDue)
	}
	if e.tx.gen != 0 {
		if len(e.tx.unacked) > 0 {
			at(e.tx.nextScan)
		}
		at(e.tx.throttledUntil)
		if e.tx.queue.len() > 0 && e.windowOpen() {
			at(e.tx.queue.front().at.Add(e.cfg.BatchDelay))
		}
	} else if e.canSend() {
		at(e.tx.retryAt)
	}
	return t
}

// send seals and writes one datagram to the peer.
func (e *Endpoint) send(typ frame.Type, receiver uint64, payload []byte, now time.Time) int {
	if e.conn == nil {
		return 0
	}
	e.packet++
	h := frame.Header{Type: typ, Encrypted: e.cfg.Encrypt, Sender: e.session, Receiver: receiver, Packet: e.packet}
	b, err := e.keys.current.Seal(e.sendBuf[:0], h, payload)
	if err != nil {
		// Only a bug gets here: every payload the endpoint builds fits.
		e.log.Error("state sync: sealing", "err", err)
		return 0
	}
	e.sendBuf = b
	if _, err := e.conn.WriteToUDPAddrPort(b, e.cfg.Peer); err != nil {
		e.st.SendErrors++
		e.log.Debug("state sync: send", "err", err)
	}
	e.st.DatagramsSent++
	e.st.BytesSent += uint64(len(b))
	return len(b)
}

// sendControl sends a control datagram to the receiver session.
func (e *Endpoint) sendControl(receiver uint64, now time.Time) {
	c := frame.Control{Role: e.role}
	if e.role == RoleStandby {
		e.rx.fill(&c, e)
		c.BulkComplete = e.bulkComplete
		e.rx.ackDue = time.Time{}
		e.rx.sinceAck = 0
	}
	p, err := frame.AppendControl(nil, &c)
	if err != nil {
		e.log.Error("state sync: control", "err", err)
		return
	}
	e.send(frame.TypeControl, receiver, p, now)
	e.lastControl = now
}
