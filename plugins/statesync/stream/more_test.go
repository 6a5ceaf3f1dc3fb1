package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// SPEC SYNC-4: data on the wire, bulk sync included, stays within Config.Rate; the bulk
// sync's duration is reported. Bounds are generous: the bucket allows a burst of two
// datagrams plus one datagram of debt, and the relay's timestamps carry the scheduling
// jitter of a loaded machine, so intervals under 100 ms are not judged and 50 ms of rate
// is added. Unthrottled, the same 107 KB leave in a few milliseconds.
func TestThrottleRespected(t *testing.T) {
	const rate = 100_000 // bytes per second
	r := &relay{}
	ca, cb := listen(t), listen(t)
	pa, pb := r.attach(t, addrOf(ca), addrOf(cb))
	achan := newMem("conntrack")
	for i := range 500 {
		achan.set(fmt.Sprintf("key-%05d", i), 200) // ~110 KB of records
	}
	mod := func(c *Config) { c.Rate = rate }
	a := start(t, ca, pa, achan, RoleActive, mod)
	b := start(t, cb, pb, newMem("conntrack"), RoleStandby, mod)
	waitEqual(t, a, b, 10*time.Second)
	eventually(t, 5*time.Second, "bulk acknowledged", func() bool { return a.ep.Stats().LastBulkDuration > 0 })
	r.mu.Lock()
	samples := append([]timedBytes(nil), r.bytesAB...)
	r.mu.Unlock()
	total := 0
	for _, s := range samples {
		total += s.n
	}
	slack := float64(4 * DefaultMaxDatagram)
	for i := range samples {
		sum := 0
		for j := i; j < len(samples); j++ {
			sum += samples[j].n
			span := samples[j].at.Sub(samples[i].at)
			if span < 100*time.Millisecond {
				continue
			}
			allowed := rate*span.Seconds()*1.1 + slack + rate*0.05
			if float64(sum) > allowed {
				t.Fatalf("%d bytes in %v, the rate allows %.0f", sum, samples[j].at.Sub(samples[i].at), allowed)
			}
		}
	}
	s := a.ep.Stats()
	minDur := time.Duration((float64(total) - slack) / rate * 0.9 * float64(time.Second))
	if s.ThrottleWaits == 0 || s.LastBulkDuration < minDur {
		t.Fatalf("%d bytes: bulk took %v, at least %v expected; %d throttle waits", total, s.LastBulkDuration, minDur, s.ThrottleWaits)
	}
	t.Logf("bulk sync of %d bytes at %d B/s took %v", total, rate, s.LastBulkDuration)
}

// Takeover and failback: the standby confirms, becomes active, and the old active becomes
// standby and receives from it (the same endpoints, switched).
func TestRoleSwitch(t *testing.T) {
	a, b := pair(t, nil, nil)
	<-a.ch.watched()
	rnd := rand.New(rand.NewPCG(13, 14))
	churn(a.ch, rnd, 1000, 2000, 60)
	waitEqual(t, a, b, 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.ep.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	b.ep.SetRole(RoleActive)
	a.ep.SetRole(RoleStandby)
	if a.ep.BulkComplete() {
		t.Fatal("a unit that just became standby claims a complete bulk sync")
	}
	<-b.ch.watched()
	churn(b.ch, rnd, 1000, 2000, 60)
	waitEqual(t, b, a, 5*time.Second)
	eventually(t, 5*time.Second, "old active bulk complete", a.ep.BulkComplete)
	if s := b.ep.Stats(); s.BulksSent != 1 || s.Resyncs != 0 {
		t.Fatalf("new active %+v", s)
	}
	if len(a.ch.regressions()) > 0 || len(b.ch.regressions()) > 0 {
		t.Fatalf("out of order: %v %v", a.ch.regressions(), b.ch.regressions())
	}
}

// Confirm with nothing pending returns at once; it does not wait for the peer.
func TestConfirmQuickWhenNothingPending(t *testing.T) {
	a, b := pair(t, nil, nil)
	<-a.ch.watched()
	eventually(t, 5*time.Second, "bulk complete", b.ep.BulkComplete)
	a.stop() // the active is gone
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := b.ep.Confirm(ctx); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	// An endpoint that never received anything confirms too.
	c := start(t, listen(t), netip.MustParseAddrPort("127.0.0.1:9"), newMem("conntrack"), RoleStandby, nil)
	if err := c.ep.Confirm(ctx); err != nil {
		t.Fatalf("Confirm of an idle endpoint: %v", err)
	}
}

// Takeover with a gap: what arrived behind the gap is installed by Confirm, and the gap is
// counted as lost.
func TestConfirmInstallsEverythingReceived(t *testing.T) {
	var blackhole atomic.Uint64
	r := &relay{drop: func(toB bool, b []byte) bool {
		s := dataSeq(b)
		return toB && s != 0 && s == blackhole.Load()
	}}
	a, b := pair(t, r, nil)
	<-a.ch.watched()
	eventually(t, 5*time.Second, "bulk complete", b.ep.BulkComplete)
	blackhole.Store(a.ep.Stats().SentSeq + 3)
	rnd := rand.New(rand.NewPCG(15, 16))
	for range 10 {
		churn(a.ch, rnd, 5000, 100, 60)
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "data behind the gap", func() bool {
		s := b.ep.Stats()
		return s.LostRanges > 0 && s.ReceivedSeq+1 == blackhole.Load()
	})
	time.Sleep(50 * time.Millisecond)
	a.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.ep.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	s := b.ep.Stats()
	c := s.Channels[0]
	if s.Unrecoverable != 1 || c.Received != c.Applied+c.ApplyErrors || s.AppliedSeq <= blackhole.Load() {
		t.Fatalf("after Confirm: %+v", s)
	}
}

// SPEC SYNC-7: a standby that went silent (link down longer than PeerTimeout) and comes
// back gets a new bulk sync; peer down and up are events.
func TestRejoinAfterSilenceGetsBulkSync(t *testing.T) {
	var cut atomic.Bool
	r := &relay{drop: func(bool, []byte) bool { return cut.Load() }}
	a, b := pair(t, r, func(c *Config) { c.PeerTimeout = 300 * time.Millisecond })
	<-a.ch.watched()
	rnd := rand.New(rand.NewPCG(17, 18))
	churn(a.ch, rnd, 500, 500, 60)
	waitEqual(t, a, b, 5*time.Second)
	cut.Store(true)
	eventually(t, 3*time.Second, "peer down", func() bool { return a.countEvents(EventPeerDown) == 1 })
	churn(a.ch, rnd, 500, 500, 60)
	cut.Store(false)
	waitEqual(t, a, b, 5*time.Second)
	if s := a.ep.Stats(); s.BulksSent != 2 || a.countEvents(EventPeerUp) != 2 {
		t.Fatalf("active %+v, events %v", s, a.eventList())
	}
}

// Many updates of the same keys while the window is closed coalesce: only the newest
// state of each key travels.
func TestCoalescing(t *testing.T) {
	var cut atomic.Bool
	r := &relay{drop: func(toB bool, b []byte) bool { return cut.Load() && toB }}
	a, b := pair(t, r, func(c *Config) { c.Window = 16 })
	<-a.ch.watched()
	eventually(t, 5*time.Second, "bulk complete", b.ep.BulkComplete)
	cut.Store(true)
	for range 50 {
		for k := range 20 {
			a.ch.set(fmt.Sprintf("hot-%d", k), 1200) // ~1 datagram each: the 16-datagram window fills
		}
	}
	cut.Store(false)
	waitEqual(t, a, b, 10*time.Second)
	if c := a.ep.Stats().Channels[0]; c.Coalesced < 500 {
		t.Fatalf("nothing coalesced: %+v", c)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	src := newMem("conntrack")
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Peer: netip.MustParseAddrPort("10.0.0.2:7405"), Key: testKey}, "Config.Local"},
		{Config{Local: netip.MustParseAddrPort("10.0.0.1:7405"), Key: testKey}, "Config.Peer"},
		{Config{Local: netip.MustParseAddrPort("10.0.0.1:7405"), Peer: netip.MustParseAddrPort("10.0.0.2:7405"), Key: []byte("short")}, "Config.Key"},
		{Config{Local: netip.MustParseAddrPort("10.0.0.1:7405"), Peer: netip.MustParseAddrPort("10.0.0.2:7405"), Key: testKey, Rate: 100}, "Config.Rate"},
		{Config{Local: netip.MustParseAddrPort("10.0.0.1:7405"), Peer: netip.MustParseAddrPort("10.0.0.2:7405"), Key: testKey, MaxDatagram: 100}, "Config.MaxDatagram"},
		{Config{Local: netip.MustParseAddrPort("10.0.0.1:7405"), Peer: netip.MustParseAddrPort("10.0.0.2:7405"), Key: testKey, Window: 1}, "Config.Window"},
	} {
		_, err := New(c.cfg, Channel{Source: src})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.want, err)
		}
	}
	good := Config{Local: netip.MustParseAddrPort("10.0.0.1:7405"), Peer: netip.MustParseAddrPort("10.0.0.2:7405"), Key: testKey}
	for _, chans := range [][]Channel{
		{{}},
		{{Source: newMem("Bad Name")}},
		{{Source: newMem("a")}, {Sink: newMem("a")}},
		{{Source: newMem("a"), Sink: newMem("b")}},
	} {
		if _, err := New(good, chans...); err == nil {
			t.Errorf("channels %v accepted", chans)
		}
	}
	if _, err := New(good, Channel{Source: src, Sink: src}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(good); err != nil {
		t.Fatalf("an endpoint without channels (it still handshakes): %v", err)
	}
}
