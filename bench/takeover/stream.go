package main

import (
	"errors"
	"net"
	"time"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// The probe stream: the client sends one UDP request every streamEvery to
// the echo server on the server host, through the pair; the server sends
// each request back unchanged. A request carries its sequence number and
// its send time (nanoseconds since the stream started).
const (
	echoAddr    = "198.51.100.10:7007"
	streamEvery = time.Millisecond
	requestSize = 16
)

// echoServer answers every datagram to its sender, from the server host.
type echoServer struct {
	conn *net.UDPConn
	done chan struct{}
}

// startEcho opens the echo server in namespace ns.
func startEcho(ns string) (*echoServer, error) {
	var c *net.UDPConn
	err := topo.InNetns(ns, func() error {
		a, err := net.ResolveUDPAddr("udp4", echoAddr)
		if err != nil {
			return err
		}
		c, err = net.ListenUDP("udp4", a)
		return err
	})
	if err != nil {
		return nil, err
	}
	s := &echoServer{conn: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				_, _ = c.WriteToUDP(buf[:n], from)
			}
		}
	}()
	return s, nil
}

// Close stops the echo server.
func (s *echoServer) Close() {
	_ = s.conn.Close()
	<-s.done
}

// echo is one answer received by the client.
type echo struct {
	seq  uint64
	sent time.Duration // since the stream started
	recv time.Duration // since the stream started
}

// stream is the client side: a sender and a receiver on one unconnected
// UDP socket (unconnected, so that ICMP errors during the takeover never
// surface as read or write errors).
type stream struct {
	pinger
	conn *net.UDPConn
	sent uint64 // under mu
}

// startStream opens the client socket in namespace ns and starts sending.
func startStream(ns string) (*stream, error) {
	var c *net.UDPConn
	err := topo.InNetns(ns, func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{})
		return err
	})
	if err != nil {
		return nil, err
	}
	to, err := net.ResolveUDPAddr("udp4", echoAddr)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	s := &stream{conn: c}
	s.init(c, time.Now())
	s.run(func(req []byte, seq uint64) bool {
		_, _ = s.conn.WriteToUDP(req, to)
		s.mu.Lock()
		s.sent = seq
		s.mu.Unlock()
		return true
	}, s.receive)
	return s, nil
}

func (s *stream) receive() {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.conn.ReadFromUDP(buf)
		now := time.Since(s.start)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || n != requestSize {
			continue
		}
		s.record(buf, now)
	}
}

// now is the stream's clock: the time since it started.
func (s *stream) now() time.Duration { return time.Since(s.start) }

// snapshot returns a copy of the echoes received so far and the number of
// requests sent.
func (s *stream) snapshot() ([]echo, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.echoesLocked(), s.sent
}

// Close stops the stream (once; later calls only read) and returns every
// echo received and the number of requests sent.
func (s *stream) Close() ([]echo, uint64) {
	s.close()
	return s.snapshot()
}

// steady reports whether echoes came back for the last window: at least
// 80 % of the requests of the window and no gap longer than 20 ms.
func steady(echoes []echo, now, window time.Duration) bool {
	from := now - window
	n := 0
	last := from
	for _, e := range echoes {
		if e.recv < from {
			continue
		}
		if e.recv-last > 20*time.Millisecond {
			return false
		}
		last = e.recv
		n++
	}
	return now-last <= 20*time.Millisecond && n >= int(window/streamEvery)*8/10
}

// outcome is what the client saw around one kill.
type outcome struct {
	// Silence is the longest gap between two consecutive echoes received
	// from the kill's last echo onwards; SilenceEnd is when it ended
	// (stream clock).
	Silence, SilenceEnd time.Duration
	// AfterDead is the time from the end of the standby's dead interval
	// (the active's last heartbeat at the standby plus the stack's
	// DeadInterval) to SilenceEnd: the takeover work, with the wait the
	// timers dictate taken out. AfterDeadOK is false when the standby's
	// heartbeat tap saw no heartbeat.
	AfterDead   time.Duration
	AfterDeadOK bool
	// FirstEcho is the time from the kill to the first echo of a request
	// sent once every port of the killed unit was down (until then the
	// old unit's kernel still forwards).
	FirstEcho time.Duration
	// PortsDown is the time topo's Kill took from the SIGKILL to the last
	// port down.
	PortsDown time.Duration
	// HeartbeatEvery is the mean time between the active's heartbeats
	// (or VRRP adverts) at the standby before the kill.
	HeartbeatEvery time.Duration
	// Lost counts the requests without an echo.
	Lost uint64
	// Recovered is false when no echo came back after the kill.
	Recovered bool
	// Wire is the time on the server's link from the last request the
	// old active forwarded to the first the new active forwarded; WireOK
	// is false when it could not be told (the units share a MAC).
	Wire   time.Duration
	WireOK bool
	// TCPSilence is the longest silence of the TCP sessions that survived
	// the takeover; TCPSilenceOK is false when none did.
	TCPSilence   time.Duration
	TCPSilenceOK bool
	// TCPSurvived of TCPSessions came through the takeover; TCPLost says
	// why each of the others did not.
	TCPSurvived, TCPSessions int
	TCPLost                  []string
	// Logs is where the lab's logs of a run that lost TCP sessions were
	// copied (with -logs).
	Logs string
}

// measure computes the outcome of a kill at time killed (stream clock),
// whose last port went down at down, from the echoes received. Only gaps
// that end after the kill count.
func measure(echoes []echo, sent uint64, killed, down time.Duration) outcome {
	o := outcome{}
	o.Silence, o.SilenceEnd = longestGap(echoes, killed)
	seen := map[uint64]bool{}
	for _, e := range echoes {
		seen[e.seq] = true
		if !o.Recovered && e.sent > down {
			o.Recovered = true
			o.FirstEcho = e.recv - killed
		}
	}
	o.Lost = sent - uint64(len(seen))
	return o
}

// longestGap is the longest time between two consecutive echoes (in
// receive order) of which the later arrived after killed, and when the
// later arrived.
func longestGap(echoes []echo, killed time.Duration) (gap, end time.Duration) {
	for i := 1; i < len(echoes); i++ {
		if e := echoes[i]; e.recv > killed && e.recv-echoes[i-1].recv > gap {
			gap, end = e.recv-echoes[i-1].recv, e.recv
		}
	}
	return gap, end
}

// recoveredFor reports whether echoes of requests sent after down (the
// killed unit's ports down) have come back steadily for at least d.
func recoveredFor(echoes []echo, down, now, d time.Duration) bool {
	for _, e := range echoes {
		if e.sent > down {
			return now-e.recv >= d && steady(echoes, now, d)
		}
	}
	return false
}
