package dnsproxy_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/client"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/dnsproxy"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/publishtest"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/records"
)

// upstream is an authoritative test DNS server: A records with TTLs that
// the test changes, and a CNAME to check that names in RDATA survive.
type upstream struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	answers map[string]struct {
		addr netip.Addr
		ttl  uint32
	}
	queries atomic.Int64
}

func newUpstream(t *testing.T) *upstream {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{conn: c, answers: map[string]struct {
		addr netip.Addr
		ttl  uint32
	}{}}
	go u.serve()
	t.Cleanup(func() { c.Close() })
	return u
}

func (u *upstream) set(name, addr string, ttl uint32) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.answers[name] = struct {
		addr netip.Addr
		ttl  uint32
	}{netip.MustParseAddr(addr), ttl}
}

func (u *upstream) serve() {
	buf := make([]byte, 512)
	for {
		n, from, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		u.queries.Add(1)
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.EnableCompression()
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		name := q.Name.String()
		u.mu.Lock()
		if name == "alias.sync9.test." {
			b.CNAMEResource(dnsmessage.ResourceHeader{Name: q.Name, Class: q.Class, TTL: 300},
				dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("stable.sync9.test.")})
			name = "stable.sync9.test."
		}
		if a, ok := u.answers[name]; ok && q.Type == dnsmessage.TypeA {
			b.AResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: q.Class, TTL: a.ttl},
				dnsmessage.AResource{A: a.addr.As4()})
		}
		u.mu.Unlock()
		msg, _ := b.Finish()
		u.conn.WriteToUDPAddrPort(msg, from)
	}
}

// query asks server for name's A records and returns them with their TTLs.
func query(t *testing.T, server netip.AddrPort, name string) ([]string, []uint32) {
	t.Helper()
	c, err := net.Dial("udp", server.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 4242, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	msg, _ := b.Finish()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write(msg)
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("query %s at %v: %v", name, server, err)
	}
	var p dnsmessage.Parser
	h, err := p.Start(buf[:n])
	if err != nil || h.ID != 4242 || h.RCode != dnsmessage.RCodeSuccess {
		t.Fatalf("query %s: header %+v, %v", name, h, err)
	}
	p.SkipAllQuestions()
	rs, err := p.AllAnswers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var ttls []uint32
	for _, r := range rs {
		switch b := r.Body.(type) {
		case *dnsmessage.AResource:
			out = append(out, netip.AddrFrom4(b.A).String())
		case *dnsmessage.CNAMEResource:
			out = append(out, "cname:"+b.CNAME.String())
		}
		ttls = append(ttls, r.Header.TTL)
	}
	return out, ttls
}

func startProxy(t *testing.T, ctx context.Context, up *upstream, sock string) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dnsproxy.New(dnsproxy.Config{Conn: c, Upstream: up.conn.LocalAddr().String(), Socket: sock,
		Sweep: 100 * time.Millisecond, Logger: publishtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("proxy: %v", err)
		}
	}()
	t.Cleanup(func() { <-done })
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not reached in 10 s: %s", what, last)
}

// TestDNSCacheSyncedAndServedAfterTakeover is SPEC SYNC-9 with a real
// producer: the active's caching forwarder publishes additions, updates
// and expiries of its cache; the standby's store and its forwarder follow
// them (a watcher sees upsert, delete, upsert with the new address); after
// a takeover with the upstream server gone, the new active answers from
// the replicated cache, TTLs counting down.
func TestDNSCacheSyncedAndServedAfterTakeover(t *testing.T) {
	pair := publishtest.NewPair(t, []publish.ChannelConfig{publish.DefaultChannel(publish.ChannelDNSCache)}, publishtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	up := newUpstream(t)
	up.set("stable.sync9.test.", "192.0.2.10", 300)
	up.set("short.sync9.test.", "192.0.2.20", 1)
	proxyA := startProxy(t, ctx, up, pair.A.Socket)
	proxyB := startProxy(t, ctx, up, pair.B.Socket)
	eventually(t, "bulk sync", func() (bool, string) { return pair.B.Endpoint.BulkComplete(), "" })

	w, err := client.Watch(ctx, pair.B.Socket, publish.ChannelDNSCache)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Next(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"stable.sync9.test.", "alias.sync9.test.", "short.sync9.test."} {
		if got, _ := query(t, proxyA, name); len(got) == 0 {
			t.Fatalf("%s through the active proxy: no answer", name)
		}
	}
	// Addition, expiry (deletion) and a new answer for short.sync9.test.
	shortKey := records.DNSKey("short.sync9.test.", 1, 1)
	var seen []string
	next := func() client.Event {
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ev.Entries {
			if e.Key == shortKey {
				d, err := records.DecodeDNSCacheEntry(e)
				if err != nil {
					t.Fatal(err)
				}
				seen = append(seen, ev.Kind+":"+fmt.Sprint(d.Answers[0].Data))
			}
		}
		for _, k := range ev.Keys {
			if k == shortKey {
				seen = append(seen, ev.Kind)
			}
		}
		return ev
	}
	for len(seen) < 2 {
		next()
	}
	up.set("short.sync9.test.", "192.0.2.21", 60)
	if got, _ := query(t, proxyA, "short.sync9.test."); strings.Join(got, ",") != "192.0.2.21" {
		t.Fatalf("short after expiry: %v, want the upstream's new 192.0.2.21", got)
	}
	for len(seen) < 3 {
		next()
	}
	if want := "upsert:[192 0 2 20],delete,upsert:[192 0 2 21]"; strings.Join(seen, ",") != want {
		t.Errorf("standby saw %s for short.sync9.test, want %s", strings.Join(seen, ","), want)
	}
	rd, err := client.Dial(ctx, pair.B.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	_, es, err := rd.Get(ctx, publish.ChannelDNSCache)
	if err != nil || len(es) != 3 {
		t.Fatalf("standby store: %d entries (%v), want 3", len(es), err)
	}
	alias, err := records.DecodeDNSCacheEntry(es[0])
	if err != nil || alias.Name != "alias.sync9.test." || len(alias.Answers) != 2 {
		t.Fatalf("replicated alias entry %+v, %v", alias, err)
	}

	// Takeover with the upstream server gone.
	before := up.queries.Load()
	up.conn.Close()
	pair.A.Stop()
	if err := pair.B.Takeover(ctx); err != nil {
		t.Fatal(err)
	}
	got, ttls := query(t, proxyB, "stable.sync9.test.")
	if strings.Join(got, ",") != "192.0.2.10" || ttls[0] > 300 || ttls[0] < 250 {
		t.Errorf("new active's answer for stable: %v ttl %v, want 192.0.2.10 from the replicated cache", got, ttls)
	}
	got, _ = query(t, proxyB, "alias.sync9.test.")
	if strings.Join(got, ",") != "cname:stable.sync9.test.,192.0.2.10" {
		t.Errorf("new active's answer for alias: %v, want the CNAME and its address", got)
	}
	if up.queries.Load() != before {
		t.Error("the new active asked the upstream server")
	}
}
