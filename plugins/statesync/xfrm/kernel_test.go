package xfrm

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// TestKernelLayoutSYNC2 checks the struct offsets of the SA parser
// against the running kernel: an SA placeholder made with `ip xfrm state
// allocspi` (which needs no ESP support) is read back with every field
// ip(8) set, and the Source skips it as larval.
func TestKernelLayoutSYNC2(t *testing.T) {
	needRoot(t)
	ns := netnstest.New(t, nsPrefix, "layout")
	ns.Run(t, "ip", "xfrm", "state", "allocspi", "src", "192.0.2.1", "dst", "198.51.100.1", "proto", "esp", "mode", "tunnel",
		"reqid", "7", "mark", "5", "mask", "0xff", "min", "0x1000", "max", "0x1fff")
	c, err := dial(ns.FD)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sas, err := dumpSAs(context.Background(), c, func(err error) { t.Errorf("unreadable: %v", err) })
	if err != nil || len(sas) != 1 {
		t.Fatalf("dump: %d SAs, %v", len(sas), err)
	}
	sa := sas[0]
	if sa.Src.String() != "192.0.2.1" || sa.Dst.String() != "198.51.100.1" || sa.Proto != ProtoESP || sa.Mode != 1 || sa.ReqID != 7 ||
		sa.Mark != 5 || sa.MarkMask != 0xff || sa.SPI < 0x1000 || sa.SPI > 0x1fff || sa.Replay == nil {
		t.Fatalf("parsed %+v", sa)
	}
	if out := ns.Run(t, "ip", "xfrm", "state"); !strings.Contains(out, fmt.Sprintf("spi 0x%08x", sa.SPI)) {
		t.Fatalf("ip(8) shows another SPI than %#x:\n%s", sa.SPI, out)
	}
	// ip(8) leaves the selector family unset (it prints the SA's).
	if sa.Selector.Family != 0 || sa.Selector.Src.String() != "192.0.2.1" || sa.Selector.Dst.String() != "198.51.100.1" || sa.Selector.PrefixD != 32 {
		t.Fatalf("selector %+v", sa.Selector)
	}
	src, err := NewSource(SourceConfig{NetNS: ns.FD})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := src.Snapshot(context.Background())
	if err != nil || len(recs) != 0 || src.Stats().Larval != 1 {
		t.Fatalf("Snapshot of a larval SA: %d records, %v, stats %+v", len(recs), err, src.Stats())
	}
}

// policies are the test policies, as ip(8) arguments.
var policies = [][]string{
	{"src", "10.1.0.0/24", "dst", "10.2.0.0/16", "dir", "out", "priority", "1000", "mark", "1", "mask", "0xffffffff",
		"tmpl", "src", "192.0.2.1", "dst", "198.51.100.1", "proto", "esp", "reqid", "1", "mode", "tunnel"},
	{"src", "10.2.0.0/16", "dst", "10.1.0.0/24", "dir", "fwd", "tmpl", "src", "198.51.100.1", "dst", "192.0.2.1", "proto", "esp",
		"reqid", "2", "mode", "tunnel"},
	{"src", "10.2.0.0/16", "dst", "10.1.0.0/24", "dir", "in", "tmpl", "src", "198.51.100.1", "dst", "192.0.2.1", "proto", "esp",
		"reqid", "2", "mode", "tunnel", "level", "use"},
	{"src", "2001:db8::/64", "dst", "2001:db8:1::/64", "proto", "udp", "dport", "53", "dir", "in", "action", "block", "ptype", "sub"},
	{"src", "10.3.0.0/24", "dst", "10.4.0.0/24", "dir", "out", "if_id", "7", "tmpl", "src", "192.0.2.1", "dst", "198.51.100.2",
		"proto", "esp", "mode", "tunnel"},
}

func policyList(t *testing.T, ns *netnstest.NS) string {
	t.Helper()
	return ns.Run(t, "ip", "xfrm", "policy", "list")
}

// watchReady runs Watch and returns once it provably sees events: a
// probe policy added with ip(8) shows up, and its deletion too.
func watchReady(t *testing.T, ctx context.Context, src *Source, ns *netnstest.NS) *netnstest.Recorder {
	t.Helper()
	rec := &netnstest.Recorder{}
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, rec.Emit, rec.Lost) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	probe := []string{"src", "10.99.0.0/24", "dst", "10.98.0.0/24", "dir", "out"}
	seen := func(op channel.Op) bool {
		for _, r := range rec.Records() {
			if p, err := DecodePolicyKey(r.Key); err == nil && r.Op == op && p.Selector.Src.String() == "10.99.0.0" {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !seen(channel.Upsert); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Watch never saw the probe policy")
		}
		ns.Run(t, append([]string{"ip", "xfrm", "policy", "update"}, probe...)...)
	}
	ns.Run(t, append([]string{"ip", "xfrm", "policy", "delete"}, probe[:6]...)...)
	for deadline := time.Now().Add(5 * time.Second); !seen(channel.Delete); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Watch emitted no Delete for the probe policy")
		}
	}
	return rec
}

// TestPolicySyncSYNC2: policies (IPv4 and IPv6, templates, marks,
// if_id, priorities, block action, sub type) go Source (A) -> codec ->
// Sink (B) by bulk sync and by events, and B's policy database becomes
// the same as A's, as ip(8) lists them; Replace removes B's extra ones.
// SPEC SYNC-7: the bulk sync (Snapshot, Replace) and the increments.
func TestPolicySyncSYNC2(t *testing.T) {
	needRoot(t)
	a, b := netnstest.New(t, nsPrefix, "a"), netnstest.New(t, nsPrefix, "b")
	for _, p := range policies {
		a.Run(t, append([]string{"ip", "xfrm", "policy", "add"}, p...)...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	src, err := NewSource(SourceConfig{NetNS: a.FD, Refresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rec := watchReady(t, ctx, src, a)
	t.Cleanup(cancel)
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != len(policies) {
		t.Fatalf("Snapshot: %d records, want %d", len(snap), len(policies))
	}
	sink, err := NewSink(SinkConfig{NetNS: b.FD})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	b.Run(t, "ip", "xfrm", "policy", "add", "src", "10.50.0.0/24", "dst", "10.51.0.0/24", "dir", "out") // B's stale one
	if err := sink.Replace(ctx, snap); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if pa, pb := policyList(t, a), policyList(t, b); pa != pb {
		t.Fatalf("after bulk sync B's policies differ from A's:\nA:\n%s\nB:\n%s", pa, pb)
	}
	if sink.Count() != len(policies) || sink.Stats().RemovedByReplace != 1 {
		t.Fatalf("sink count %d stats %+v", sink.Count(), sink.Stats())
	}

	// Increments: add, update, delete on A reach B through Watch.
	n0 := len(rec.Records())
	step := func(args ...string) {
		t.Helper()
		a.Run(t, append([]string{"ip", "xfrm", "policy"}, args...)...)
		for deadline := time.Now().Add(5 * time.Second); len(rec.Records()) == n0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("ip xfrm policy %v: no record", args)
			}
		}
		recs := rec.Records()
		if err := sink.Apply(ctx, recs[n0:]); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		n0 = len(recs)
		if pa, pb := policyList(t, a), policyList(t, b); pa != pb {
			t.Fatalf("after ip xfrm policy %v, B differs from A:\nA:\n%s\nB:\n%s", args, pa, pb)
		}
	}
	step("add", "src", "10.5.0.0/24", "dst", "10.6.0.0/24", "dir", "out", "priority", "9",
		"tmpl", "src", "192.0.2.1", "dst", "198.51.100.3", "proto", "esp", "mode", "tunnel")
	step("update", "src", "10.5.0.0/24", "dst", "10.6.0.0/24", "dir", "out", "priority", "5",
		"tmpl", "src", "192.0.2.1", "dst", "198.51.100.4", "proto", "esp", "mode", "tunnel")
	step("delete", "src", "10.5.0.0/24", "dst", "10.6.0.0/24", "dir", "out")

	// The re-read every 100 ms re-sends nothing that did not change.
	scans := src.Stats().Scans
	time.Sleep(400 * time.Millisecond)
	if st := src.Stats(); st.Scans < scans+2 || len(rec.Records()) != n0 {
		t.Fatalf("re-reads %d -> %d emitted %d records for unchanged policies", scans, st.Scans, len(rec.Records())-n0)
	}
}

// espArgs are the ip(8) arguments of an ESP SA with AES-CBC and
// HMAC-SHA256 keys made of byte k.
func espArgs(spi string, k byte) []string {
	hexKey := func(n int) string { return "0x" + strings.Repeat(fmt.Sprintf("%02x", k), n) }
	return []string{"proto", "esp", "spi", spi, "reqid", "1", "mode", "tunnel",
		"enc", "cbc(aes)", hexKey(16), "auth-trunc", "hmac(sha256)", hexKey(32), "128"}
}

// TestPolicyKernelRoundTripSYNC2: every policy of the codec tests, once
// installed by the Sink, reads back from the kernel exactly as it was.
func TestPolicyKernelRoundTripSYNC2(t *testing.T) {
	needRoot(t)
	ns := netnstest.New(t, nsPrefix, "polrt")
	sink, err := NewSink(SinkConfig{NetNS: ns.FD})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	want := map[string]Policy{}
	var recs []channel.Record
	for _, p := range codecPolicies() {
		r := PolicyRecord(&p)
		want[string(r.Key)] = p
		recs = append(recs, r)
	}
	if err := sink.Apply(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	c, err := dial(ns.FD)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := dumpPolicies(context.Background(), c, func(err error) { t.Error(err) })
	if err != nil || len(got) != len(want) {
		t.Fatalf("dump: %d policies, %v", len(got), err)
	}
	for _, p := range got {
		w, ok := want[string(AppendPolicyKey(nil, &p))]
		if !ok || !reflect.DeepEqual(p, w) {
			t.Errorf("kernel holds\n %+v\nwant\n %+v", p, w)
		}
	}
}

// espSupported reports whether the kernel can hold an ESP SA, trying one
// in a throwaway namespace; otherwise it returns why not.
func espSupported(t *testing.T) (bool, string) {
	t.Helper()
	ns := netnstest.New(t, nsPrefix, "espcheck")
	out, err := ns.Try(append([]string{"ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2"}, espArgs("0x100", 0x11)...)...)
	if err != nil {
		return false, strings.TrimSpace(out)
	}
	return true, ""
}

// TestSinkSAErrorWithoutESP runs where the kernel lacks ESP (as on the
// machine this was written on): installing an ESP SA fails, and the
// error names the SA by identity and never shows its key.
func TestSinkSAErrorWithoutESP(t *testing.T) {
	needRoot(t)
	if ok, _ := espSupported(t); ok {
		t.Skip("this kernel has ESP: TestSAInstallSYNC2 covers SA installation")
	}
	ns := netnstest.New(t, nsPrefix, "noesp")
	sink, err := NewSink(SinkConfig{NetNS: ns.FD})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sa := codecSAs()["esp out esn all fields"]
	err = sink.Apply(context.Background(), []channel.Record{SARecord(&sa)})
	// The kernel checked the whole request (its layout, replay state,
	// direction, encapsulation...) before it looked for the ESP type.
	if err == nil || !strings.Contains(err.Error(), "record 0 (SA proto 50 spi 0xc0ffee01") || !strings.Contains(err.Error(), "Requested type not found") {
		t.Fatalf("err = %v, want one naming record 0 and the SA, refused only for the missing ESP type", err)
	}
	for _, k := range []*Algo{sa.Crypt, sa.Auth} {
		if h := hex.EncodeToString(k.Key); strings.Contains(strings.ToLower(err.Error()), h[:16]) {
			t.Fatalf("the error shows key material: %v", err)
		}
	}
	if st := sink.Stats(); st.Failed != 1 || sink.Count() != 0 {
		t.Fatalf("stats %+v count %d", st, sink.Count())
	}
	t.Logf("without ESP the kernel answers: %v", err)
}

// TestSAInstallSYNC2 needs a kernel with ESP (esp4/esp6), AES-CBC and
// HMAC-SHA256: SAs with keys,
// lifetimes, mark, if_id, UDP encapsulation and legacy and ESN replay
// state go Source (A) -> codec -> Sink (B); B holds the same SAs with
// the output sequence numbers raised by the margin; a counter update is
// applied in place (XFRM_MSG_NEWAE), a key change re-creates the SA, and
// Replace removes what the active no longer has.
func TestSAInstallSYNC2(t *testing.T) {
	needRoot(t)
	if ok, why := espSupported(t); !ok {
		t.Skipf("the kernel cannot hold an ESP SA (CONFIG_INET_ESP/esp4 missing?): ip xfrm state add answers %q", why)
	}
	a, b := netnstest.New(t, nsPrefix, "a"), netnstest.New(t, nsPrefix, "b")
	aead := espArgs
	sas := [][]string{
		append(append([]string{"src", "192.0.2.1", "dst", "198.51.100.1"}, aead("0x1001", 0x11)...),
			"replay-oseq", "1000", "mark", "5", "mask", "0xff", "if_id", "7", "limit", "time-hard", "3600",
			"encap", "espinudp", "4500", "4500", "0.0.0.0"),
		append(append([]string{"src", "198.51.100.1", "dst", "192.0.2.1"}, aead("0x2002", 0x22)...),
			"replay-window", "32", "replay-seq", "500"),
		append(append([]string{"src", "192.0.2.1", "dst", "198.51.100.9"}, aead("0x3003", 0x33)...),
			"flag", "esn", "replay-window", "128", "replay-oseq", "16", "replay-oseq-hi", "2"),
	}
	for _, s := range sas {
		a.Run(t, append([]string{"ip", "xfrm", "state", "add"}, s...)...)
	}
	ctx := context.Background()
	src, err := NewSource(SourceConfig{NetNS: a.FD})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := src.Snapshot(ctx)
	if err != nil || len(snap) != len(sas) {
		t.Fatalf("Snapshot: %d records, %v", len(snap), err)
	}
	const margin = 1 << 20
	sink, err := NewSink(SinkConfig{NetNS: b.FD, OSeqMargin: margin})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if err := sink.Apply(ctx, snap); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	read := func(ns *netnstest.NS) map[uint32]SA {
		c, err := dial(ns.FD)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		list, err := dumpSAs(ctx, c, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		out := map[uint32]SA{}
		for _, s := range list {
			out[s.SPI] = s
		}
		return out
	}
	onA, onB := read(a), read(b)
	for spi, sa := range onA {
		got, ok := onB[spi]
		if !ok {
			t.Fatalf("B lacks SA %#x", spi)
		}
		want := WithMargin(sa, margin)
		if !bytes.Equal(got.Crypt.Key, sa.Crypt.Key) || !bytes.Equal(got.Auth.Key, sa.Auth.Key) || got.Auth.Extra != 128 || got.Mark != sa.Mark || got.IfID != sa.IfID || got.Lifetime != sa.Lifetime ||
			got.Current.AddTime != sa.Current.AddTime || (sa.Encap == nil) != (got.Encap == nil) {
			t.Fatalf("SA %#x differs on B: %+v, want %+v", spi, got, sa)
		}
		switch {
		case sa.ESN != nil:
			if got.ESN == nil || got.ESN.OSeq != want.ESN.OSeq || got.ESN.OSeqHi != want.ESN.OSeqHi {
				t.Fatalf("SA %#x ESN state on B %+v, want %+v", spi, got.ESN, want.ESN)
			}
		case got.Replay == nil || *got.Replay != *want.Replay:
			t.Fatalf("SA %#x replay state on B %+v, want %+v", spi, got.Replay, want.Replay)
		}
	}
	if onB[0x1001].Replay.OSeq != 1000+margin || onB[0x2002].Replay.Seq != 500 {
		t.Fatalf("output counter %d (want %d), input counter %d (want 500)", onB[0x1001].Replay.OSeq, 1000+margin, onB[0x2002].Replay.Seq)
	}

	// A counter update is applied in place.
	var out SA
	for _, r := range snap {
		if s, _ := DecodeSA(r.Key, r.Value); s.SPI == 0x1001 {
			out = s
		}
	}
	out.Replay.OSeq += 10
	out.Current.Packets = 99
	if err := sink.Apply(ctx, []channel.Record{SARecord(&out)}); err != nil {
		t.Fatal(err)
	}
	if got := read(b)[0x1001]; got.Replay.OSeq != 1010+margin || got.Current.Packets != 99 || sink.Stats().SAUpdated != 1 {
		t.Fatalf("after the counter update B has oseq %d packets %d, stats %+v", got.Replay.OSeq, got.Current.Packets, sink.Stats())
	}
	// A key change re-creates it.
	out.Crypt.Key = bytes.Repeat([]byte{0x44}, 16)
	if err := sink.Apply(ctx, []channel.Record{SARecord(&out)}); err != nil {
		t.Fatal(err)
	}
	if got := read(b)[0x1001]; !bytes.Equal(got.Crypt.Key, out.Crypt.Key) || sink.Stats().SARecreated != 1 {
		t.Fatalf("after the key change B has another key, stats %+v", sink.Stats())
	}
	if err := sink.Replace(ctx, snap[:1]); err != nil {
		t.Fatal(err)
	}
	if n := len(read(b)); n != 1 || sink.Count() != 1 {
		t.Fatalf("after Replace with one SA B holds %d (count %d)", n, sink.Count())
	}
}

var (
	_ channel.Source = (*Source)(nil)
	_ channel.Sink   = (*Sink)(nil)
)
