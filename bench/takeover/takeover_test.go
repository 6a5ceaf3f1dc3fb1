package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The pure parts of the benchmark: timer parsing, percentiles, the
// silence computed from the echoes, the TCP sessions' survival and
// silence, the standby's connection table and the report's TCP columns. The lab runs need root and keepalived
// and are not tests.
func TestParseTimers(t *testing.T) {
	got, err := parseTimers("200x3, 20x3")
	if err != nil || len(got) != 2 || got[0] != (timers{200, 3}) || got[1] != (timers{20, 3}) {
		t.Fatalf("parseTimers = %v, %v", got, err)
	}
	for _, bad := range []string{"", "200", "x3", "200x", "0x3", "200x3,abc"} {
		if _, err := parseTimers(bad); err == nil {
			t.Errorf("parseTimers(%q) accepted", bad)
		}
	}
	if d := (timers{20, 3}).dead(); d != 60*time.Millisecond {
		t.Errorf("dead = %s", d)
	}
	if s := advertInt(20); s != "0.02" {
		t.Errorf("advertInt(20) = %s", s)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 20; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 10}, {99, 20}, {100, 20}, {0, 1}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %d, want %d", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestMeasure(t *testing.T) {
	ms := time.Millisecond
	var es []echo
	seq := uint64(0)
	add := func(sent, recv time.Duration) {
		seq++
		es = append(es, echo{seq: seq, sent: sent, recv: recv})
	}
	// A 30 ms hiccup before the kill does not count; the 250 ms gap
	// after it does.
	add(0, 1*ms)
	add(1*ms, 31*ms)
	add(32*ms, 33*ms) // kill at 40 ms, ports down at 50 ms
	add(282*ms, 283*ms)
	add(283*ms, 284*ms)
	o := measure(es, 300, 40*ms, 50*ms)
	if !o.Recovered || o.Silence != 250*ms || o.SilenceEnd != 283*ms || o.FirstEcho != 243*ms || o.Lost != 295 {
		t.Errorf("measure = %+v", o)
	}
	if o := measure(es[:3], 10, 40*ms, 50*ms); o.Recovered {
		t.Errorf("recovered without an echo after the kill: %+v", o)
	}
}

func TestLongestGap(t *testing.T) {
	ms := time.Millisecond
	es := []echo{{recv: 1 * ms}, {recv: 50 * ms}, {recv: 60 * ms}, {recv: 90 * ms}}
	for _, c := range []struct{ killed, want, end time.Duration }{{0, 49 * ms, 50 * ms}, {55 * ms, 30 * ms, 90 * ms}, {90 * ms, 0, 0}} {
		if got, end := longestGap(es, c.killed); got != c.want || end != c.end {
			t.Errorf("longestGap(killed %s) = %s ending at %s, want %s ending at %s", c.killed, got, end, c.want, c.end)
		}
	}
	if g, _ := longestGap(nil, 0); g != 0 {
		t.Error("longestGap of nothing")
	}
}

func TestJudgeSession(t *testing.T) {
	ms := time.Millisecond
	// Echoes every ms to 40 ms, a kill at 40, ports down at 50, and the
	// session back from 640 ms (one RTO backoff) to 1000 ms.
	var es []echo
	for i := time.Duration(1); i <= 40; i++ {
		es = append(es, echo{seq: uint64(i), sent: i*ms - ms/2, recv: i * ms})
	}
	back := append([]echo(nil), es...)
	for i := time.Duration(640); i <= 1000; i++ {
		back = append(back, echo{seq: uint64(i), sent: i*ms - ms/2, recv: i * ms})
	}
	const killed, down, end = 40 * time.Millisecond, 50 * time.Millisecond, 1010 * time.Millisecond
	if got := judgeSession(back, nil, killed, down, end); !got.Survived || got.Silence != 600*ms {
		t.Errorf("recovered session = %+v, want survived with 600 ms", got)
	}
	for name, c := range map[string]struct {
		es  []echo
		err error
		end time.Duration
	}{
		"reset":                 {back, errors.New("read: connection reset by peer"), end},
		"never back":            {es, nil, end},
		"no echo at all":        {nil, nil, end},
		"stalled again":         {back, nil, 1200 * ms},
		"only old echoes after": {append(es, echo{seq: 41, sent: 45 * ms, recv: 700 * ms}), nil, 710 * ms},
	} {
		if got := judgeSession(c.es, c.err, killed, down, c.end); got.Survived || got.Lost == "" {
			t.Errorf("%s: judged %+v, want lost with a reason", name, got)
		}
	}
}

func TestAddSessions(t *testing.T) {
	ms := time.Millisecond
	var o outcome
	o.addSessions([]sessionOutcome{{true, 300 * ms, ""}, {Lost: "read: connection reset by peer"}, {true, 700 * ms, ""},
		{Lost: "no echo through the new unit"}, {Lost: "read: connection reset by peer"}})
	if o.TCPSilence != 700*ms || !o.TCPSilenceOK || o.TCPSurvived != 2 || o.TCPSessions != 5 {
		t.Errorf("addSessions = %+v; want 700ms over 2 of 5 survived", o)
	}
	if got, want := lostSummary(o.TCPLost), "2 x read: connection reset by peer; 1 x no echo through the new unit"; got != want {
		t.Errorf("lostSummary = %q, want %q", got, want)
	}
	var none outcome
	none.addSessions([]sessionOutcome{{Lost: "x"}, {Lost: "x"}})
	if none.TCPSilence != 0 || none.TCPSilenceOK || none.TCPSurvived != 0 || none.TCPSessions != 2 {
		t.Errorf("addSessions of none survived = %+v", none)
	}
}

func TestSyncedSessions(t *testing.T) {
	// conntrack -L on tandem's standby, and conntrackd -e on keepalived's.
	kernel := []byte(`tcp      6 432059 ESTABLISHED src=192.0.2.10 dst=198.51.100.10 sport=58804 dport=7008 src=198.51.100.10 dst=198.51.100.1 sport=7008 dport=58804 [ASSURED] mark=0 use=1
tcp      6 119 SYN_SENT src=192.0.2.10 dst=198.51.100.10 sport=58780 dport=7008 [UNREPLIED] src=198.51.100.10 dst=198.51.100.1 sport=7008 dport=58780 mark=0 use=1
tcp      6 432059 ESTABLISHED src=192.0.2.10 dst=198.51.100.10 sport=58796 dport=7008 src=198.51.100.10 dst=198.51.100.1 sport=7008 dport=58796 [ASSURED] mark=0 use=1
`)
	cache := []byte(`udp      17 src=169.254.11.1 dst=169.254.11.2 sport=8734 dport=8734 mark=0 [active since 2s]
tcp      6 ESTABLISHED src=192.0.2.10 dst=198.51.100.10 sport=58838 dport=7008 [ASSURED] [active since 2s]
udp      17 src=192.0.2.10 dst=198.51.100.10 sport=58852 dport=7008 [active since 2s]
tcp      6 ESTABLISHED src=192.0.2.10 dst=198.51.100.10 sport=58826 dport=7009 [ASSURED] [active since 2s]
tcp      6 ESTABLISHED src=192.0.2.10 dst=198.51.100.10 sport=58820 dport=7008 [ASSURED] [active since 2s]
`)
	for _, c := range []struct {
		name    string
		listing []byte
		ports   []int
		want    int
	}{
		{"kernel", kernel, []int{58804, 58780, 58796, 7008}, 2},
		{"external cache", cache, []int{58838, 58852, 58826, 58820}, 2},
		{"empty", nil, []int{58838}, 0},
	} {
		if got := syncedSessions(c.listing, 7008, c.ports); got != c.want {
			t.Errorf("%s: syncedSessions = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestReportTCPColumns(t *testing.T) {
	ms := time.Millisecond
	tm := timers{100, 3}
	r := &report{Runs: 2, Ref: "keepalived+conntrackd"}
	r.result("tandem", tm).Runs = []outcome{
		{Silence: 300 * ms, TCPSilence: 310 * ms, TCPSilenceOK: true, TCPSurvived: 4, TCPSessions: 4},
		{Silence: 250 * ms, TCPSilence: 700 * ms, TCPSilenceOK: true, TCPSurvived: 3, TCPSessions: 4},
	}
	r.result("keepalived+conntrackd", tm).Runs = []outcome{
		{Silence: 300 * ms, TCPSessions: 4, TCPLost: []string{"read: connection reset by peer", "read: connection reset by peer", "no echo through the new unit", "read: connection reset by peer"}},
		{Silence: 250 * ms, TCPSilence: 620 * ms, TCPSilenceOK: true, TCPSurvived: 4, TCPSessions: 4},
	}
	var b strings.Builder
	r.write(&b)
	out := b.String()
	for _, want := range []string{
		"Reference: keepalived+conntrackd, keepalived (VRRPv3) with conntrackd",
		"| 310 ms | 700 ms | 7/8 | 0.50x |",
		"| 620 ms | 620 ms | 4/8 |  |",
		"100x3 tandem TCP silences (ms, sessions survived, run order): 310 (4/4) 700 (3/4)",
		"100x3 keepalived+conntrackd TCP silences (ms, sessions survived, run order): none (0/4) 620 (4/4)",
		"100x3 keepalived+conntrackd TCP sessions lost in run 1 of those ok: 3 x read: connection reset by peer; 1 x no echo through the new unit",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestSessionFail(t *testing.T) {
	s := &tcpSession{}
	s.fail("read", fmt.Errorf("read: %w", net.ErrClosed))
	if s.err != nil {
		t.Fatalf("closing the session recorded %v", s.err)
	}
	s.fail("write", &net.OpError{Op: "write", Net: "tcp4", Err: os.NewSyscallError("write", syscall.ECONNRESET)})
	s.fail("read", io.EOF)
	if s.err == nil || s.err.Error() != "write: connection reset by peer" {
		t.Errorf("first error = %v, want write: connection reset by peer", s.err)
	}
	s = &tcpSession{}
	s.fail("read", io.ErrUnexpectedEOF)
	if s.err == nil || s.err.Error() != "read: closed by the server" {
		t.Errorf("EOF = %v, want read: closed by the server", s.err)
	}
}

// The heartbeat tap knows tandem's heartbeats and VRRP adverts by their
// IP header, and nothing else.
func TestHeartbeatSource(t *testing.T) {
	frame := func(proto byte, dport uint16) []byte {
		f := make([]byte, 14+20+8)
		f[12], f[13] = 0x08, 0x00
		ip := f[14:]
		ip[0], ip[9] = 0x45, proto
		copy(ip[12:16], []byte{169, 254, 10, 1})
		ip[22], ip[23] = byte(dport>>8), byte(dport)
		return f
	}
	src := netip.MustParseAddr("169.254.10.1")
	for _, c := range []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"tandem heartbeat", frame(17, 8734), true},
		{"VRRP advert", frame(112, 0), true},
		{"state sync stream", frame(17, 8735), false},
		{"config sync", frame(6, 8734), false},
		{"short", frame(17, 8734)[:20], false},
	} {
		got, ok := heartbeatSource(c.frame)
		if ok != c.ok || ok && got != src {
			t.Errorf("%s: %v %t, want %t", c.name, got, ok, c.ok)
		}
	}
}
