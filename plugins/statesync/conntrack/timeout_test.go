package conntrack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNeedsRefresh(t *testing.T) {
	now := time.Now()
	const p = 30 * time.Second
	cases := []struct {
		name            string
		told, remaining time.Duration
		want            bool
	}{
		{"not refreshed", 100 * time.Second, 100 * time.Second, false},
		{"rounding only", 100 * time.Second, 100*time.Second + 900*time.Millisecond, false},
		{"refreshed, standby knows plenty", 100 * time.Second, 120 * time.Second, false},
		{"refreshed, standby below two periods", 50 * time.Second, 120 * time.Second, true},
		{"drifted by more than a period", 70 * time.Second, 110 * time.Second, true},
		{"long timeout, drift below an eighth", 108 * time.Hour, 120 * time.Hour, false},
		{"long timeout, drift above an eighth", 100 * time.Hour, 120 * time.Hour, true},
		{"expired in the standby's view", -time.Second, 10 * time.Second, true},
	}
	for _, c := range cases {
		if got := needsRefresh(now, now.Add(c.told), c.remaining, p); got != c.want {
			t.Errorf("%s: needsRefresh(told %s, remaining %s) = %v, want %v", c.name, c.told, c.remaining, got, c.want)
		}
	}
}

// TestTimeoutCarriedOverSYNC1: a long-lived UDP flow with short kernel
// timeouts (4 s) stays installed on the standby as long as it lives on
// the active, because the Source re-sends it when traffic refreshed its
// timeout (the kernel sends no event for that); once the traffic and the
// active stop, the standby's copy expires about when the active's would.
func TestTimeoutCarriedOverSYNC1(t *testing.T) {
	needRoot(t)
	const period = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tp := newTopology(t, 2)
	fwA, fwB := tp.fws[0], tp.fws[1]
	fwA.Sysctl(t, "net.netfilter.nf_conntrack_udp_timeout=4", "net.netfilter.nf_conntrack_udp_timeout_stream=4")
	localA, err := NewLocalAddrs(ctx, fwA.FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(SourceConfig{NetNS: fwA.FD, IsLocal: localA.Contains, Refresh: period})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, fwA)
	t.Cleanup(cancel)
	sink, err := NewSink(SinkConfig{NetNS: fwB.FD, IsLocal: func(netip.Addr) bool { return false }, TimeoutMargin: MarginFor(period)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()

	// The standby applies what the active emits, until the active "dies".
	applyCtx, stopApply := context.WithCancel(ctx)
	var applying sync.WaitGroup
	applying.Add(1)
	go func() {
		defer applying.Done()
		done := 0
		for applyCtx.Err() == nil {
			recs := rec.Records()
			if len(recs) > done {
				if err := sink.Apply(applyCtx, recs[done:]); err != nil && applyCtx.Err() == nil {
					t.Errorf("Apply: %v", err)
				}
				done = len(recs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	var srv, cli net.PacketConn
	tp.srv.Do(t, func() { srv, err = net.ListenPacket("udp", serverAddr+":5400") })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			srv.WriteTo(buf[:n], from)
		}
	}()
	tp.cli.Do(t, func() { cli, err = net.ListenPacket("udp", clientAddr+":0") })
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cport := cli.LocalAddr().(*net.UDPAddr).Port
	onStandby := func() bool {
		out := fwB.Run(t, "conntrack", "-L", "-p", "udp", "--orig-port-src", fmt.Sprint(cport))
		return strings.Contains(out, fmt.Sprintf("sport=%d", cport))
	}

	const lifetime = 7 * time.Second
	start := time.Now()
	for time.Since(start) < lifetime {
		if _, err := cli.WriteTo([]byte("tick"), &net.UDPAddr{IP: net.ParseIP(serverAddr), Port: 5400}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// 7 s of life outlasts the first record's 4 s + 1 s margin by far.
	if !onStandby() {
		t.Fatal("the live flow expired on the standby")
	}
	stopped := time.Now()
	stopApply()
	applying.Wait()
	if src.Stats().Refreshes < 2 {
		t.Errorf("Refreshes = %d, want the flow re-sent as its timeout was pushed", src.Stats().Refreshes)
	}
	var gone time.Duration
	for gone == 0 {
		time.Sleep(100 * time.Millisecond)
		if !onStandby() {
			gone = time.Since(stopped)
		}
		if time.Since(stopped) > 9*time.Second {
			t.Fatal("the standby's copy outlived the active's expiry (4 s) plus margin by far")
		}
	}
	// The active expires it 4 s after the last packet; the standby not
	// earlier, and at most the margin (2 periods + 1 s) later.
	if gone < 3700*time.Millisecond || gone > 7500*time.Millisecond {
		t.Errorf("standby's copy expired %s after the traffic stopped, want between 4 s (the active's expiry) and 7 s", gone)
	}
	t.Logf("refreshes %d; standby's copy expired %s after the last packet", src.Stats().Refreshes, gone.Round(100*time.Millisecond))
}
