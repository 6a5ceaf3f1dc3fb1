package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// The live TCP sessions: tcpSessions connections from the client to the
// TCP echo server on the server host, through the pair, opened well before
// the kill. Each carries one request (sequence number and send time, as
// the UDP stream's) every streamEvery and gets it echoed back.
const (
	tcpEchoAddr = "198.51.100.10:7008"
	tcpEchoPort = 7008
	tcpSessions = 4
)

// aliveWithin is how recent a session's last echo must be at the end of a
// run for the session to count as alive.
const aliveWithin = 100 * time.Millisecond

// tcpEchoServer writes every byte it reads back on each connection it
// accepts, from the server host.
type tcpEchoServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// startTCPEcho opens the TCP echo server in namespace ns.
func startTCPEcho(ns string) (*tcpEchoServer, error) {
	var ln net.Listener
	if err := topo.InNetns(ns, func() (err error) {
		ln, err = net.Listen("tcp4", tcpEchoAddr)
		return err
	}); err != nil {
		return nil, fmt.Errorf("TCP echo server in %s: %w", ns, err)
	}
	s := &tcpEchoServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				_ = c.Close()
			} else {
				s.conns = append(s.conns, c)
				s.wg.Add(1)
				go s.echo(c)
			}
			s.mu.Unlock()
		}
	}()
	return s, nil
}

// echo answers one connection until it ends.
func (s *tcpEchoServer) echo(c net.Conn) {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// Close stops the server and ends every connection it accepted.
func (s *tcpEchoServer) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// tcpSession is one client connection: a writer sending a request every
// streamEvery and a reader recording each echo, on the clock of the UDP
// stream that started at start.
type tcpSession struct {
	pinger
	conn *net.TCPConn
	err  error // under mu: the first read or write error; closing it is none
}

// dialSession connects a session from namespace ns to the TCP echo server
// and starts its requests.
func dialSession(ns string, start time.Time) (*tcpSession, error) {
	var c net.Conn
	if err := topo.InNetns(ns, func() (err error) {
		c, err = net.DialTimeout("tcp4", tcpEchoAddr, 3*time.Second)
		return err
	}); err != nil {
		return nil, fmt.Errorf("TCP session from %s to %s: %w", ns, tcpEchoAddr, err)
	}
	s := &tcpSession{conn: c.(*net.TCPConn)}
	s.init(c, start)
	s.run(func(req []byte, _ uint64) bool {
		if _, err := s.conn.Write(req); err != nil {
			s.fail("write", err)
			return false
		}
		return true
	}, s.receive)
	return s, nil
}

// port is the session's client port, as the firewalls' connection tables
// show it in the original direction.
func (s *tcpSession) port() int { return s.conn.LocalAddr().(*net.TCPAddr).Port }

// fail records the session's first error, of operation op (read or
// write), unless the session was closed: op and the system's error (such
// as "read: connection reset by peer"), without the addresses.
func (s *tcpSession) fail(op string, err error) {
	if errors.Is(err, net.ErrClosed) {
		return
	}
	var errno syscall.Errno
	msg := err.Error()
	switch {
	case errors.As(err, &errno):
		msg = errno.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = "closed by the server"
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("%s: %s", op, msg)
	}
	s.mu.Unlock()
}

func (s *tcpSession) receive() {
	buf := make([]byte, requestSize)
	for {
		if _, err := io.ReadFull(s.conn, buf); err != nil {
			s.fail("read", err)
			return
		}
		s.record(buf, time.Since(s.start))
	}
}

// snapshot returns a copy of the echoes received so far and the session's
// error.
func (s *tcpSession) snapshot() ([]echo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.echoesLocked(), s.err
}

// Close ends the session (once; later calls only read) and returns every
// echo received and its error, if it failed before.
func (s *tcpSession) Close() ([]echo, error) {
	s.close()
	return s.snapshot()
}

// dialSessions opens n sessions from namespace ns; on failure it closes
// those it had opened.
func dialSessions(ns string, n int, start time.Time) ([]*tcpSession, error) {
	var ss []*tcpSession
	for range n {
		s, err := dialSession(ns, start)
		if err != nil {
			closeSessions(ss)
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// closeSessions ends every session.
func closeSessions(ss []*tcpSession) {
	for _, s := range ss {
		s.Close()
	}
}

// sessionsSteady reports whether every session is free of errors and
// has echoed steadily for the last window (as steady for the UDP stream).
func sessionsSteady(ss []*tcpSession, now, window time.Duration) bool {
	for _, s := range ss {
		e, err := s.snapshot()
		if err != nil || !steady(e, now, window) {
			return false
		}
	}
	return true
}

// sessionsSettled reports whether every session has either failed or
// recovered steadily for d after down: nothing more will change.
func sessionsSettled(ss []*tcpSession, down, now, d time.Duration) bool {
	for _, s := range ss {
		e, err := s.snapshot()
		if err == nil && !recoveredFor(e, down, now, d) {
			return false
		}
	}
	return true
}

// sessionOutcome is what one TCP session saw around the kill.
type sessionOutcome struct {
	// Survived: no error, echoes of requests sent after the old unit's
	// ports went down (so through the new unit), and still echoing at the
	// end of the run.
	Survived bool
	// Silence is the longest gap between two consecutive echoes ending
	// after the kill; only meaningful when Survived.
	Silence time.Duration
	// Lost says why a session did not survive.
	Lost string
}

// judgeSession decides whether a session with these echoes and error
// survived a kill at killed, whose last port went down at down, as seen at
// end (all on the stream clock), and how long it was silent.
func judgeSession(echoes []echo, err error, killed, down, end time.Duration) sessionOutcome {
	if err != nil {
		return sessionOutcome{Lost: err.Error()}
	}
	through := false
	for _, e := range echoes {
		through = through || e.sent > down
	}
	switch {
	case !through:
		return sessionOutcome{Lost: "no echo through the new unit"}
	case end-echoes[len(echoes)-1].recv > aliveWithin:
		return sessionOutcome{Lost: "silent again at the end of the run"}
	}
	silence, _ := longestGap(echoes, killed)
	return sessionOutcome{Survived: true, Silence: silence}
}

// addSessions records the sessions of one run in o: how many survived,
// the longest silence over the survived ones, and why the others did not.
func (o *outcome) addSessions(ss []sessionOutcome) {
	o.TCPSessions = len(ss)
	for _, s := range ss {
		if s.Survived {
			o.TCPSurvived++
			o.TCPSilence = max(o.TCPSilence, s.Silence)
		} else {
			o.TCPLost = append(o.TCPLost, s.Lost)
		}
	}
	o.TCPSilenceOK = o.TCPSurvived > 0
}

// lostSummary counts the reasons sessions were lost, in order of first
// appearance: "3 x read: connection reset by peer; 1 x ...".
func lostSummary(reasons []string) string {
	var order []string
	n := map[string]int{}
	for _, r := range reasons {
		if n[r] == 0 {
			order = append(order, r)
		}
		n[r]++
	}
	var parts []string
	for _, r := range order {
		parts = append(parts, fmt.Sprintf("%d x %s", n[r], r))
	}
	return strings.Join(parts, "; ")
}

// syncedSessions counts the client ports among ports that a connection
// table listing (conntrack -L, or conntrackd -e / -i, one entry per line)
// holds as ESTABLISHED TCP entries to dport; a line's first sport= and
// dport= are its original direction.
func syncedSessions(listing []byte, dport int, ports []int) int {
	held := map[int]bool{}
	sc := bufio.NewScanner(bytes.NewReader(listing))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("tcp")) || !bytes.Contains(line, []byte("ESTABLISHED")) {
			continue
		}
		sp, ok1 := field(line, "sport=")
		dp, ok2 := field(line, "dport=")
		if ok1 && ok2 && dp == dport {
			held[sp] = true
		}
	}
	n := 0
	for _, p := range ports {
		if held[p] {
			n++
		}
	}
	return n
}

// field reads the number after the first key in line.
func field(line []byte, key string) (int, bool) {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return 0, false
	}
	v := line[i+len(key):]
	if j := bytes.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	n, err := strconv.Atoi(string(v))
	return n, err == nil
}
