package xfrm

import (
	"context"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// BenchmarkSAEncodeDecode measures the codec of a typical tunnel SA
// (AES-CBC + HMAC-SHA256, legacy replay state): the active encodes it at
// every re-send, the standby decodes it.
func BenchmarkSAEncodeDecode(b *testing.B) {
	sa := codecSAs()["esp out esn all fields"]
	var n int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := SARecord(&sa)
		if _, err := DecodeSA(r.Key, r.Value); err != nil {
			b.Fatal(err)
		}
		n = len(r.Key) + len(r.Value)
	}
	b.ReportMetric(float64(n), "bytes/record")
}

// BenchmarkPolicyApply measures policies per second installed into the
// kernel (UPDPOLICY, one request each).
func BenchmarkPolicyApply(b *testing.B) {
	needRoot(b)
	ns := netnstest.New(b, nsPrefix, "bench")
	sink, err := NewSink(SinkConfig{NetNS: ns.FD})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	const n = 1024
	recs := make([]channel.Record, n)
	for i := range recs {
		p := Policy{Selector: Selector{Family: unix.AF_INET, Dst: netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}),
			Src: netip.MustParseAddr("10.1.0.0"), PrefixD: 32, PrefixS: 16}, Dir: DirOut,
			Templates: []Template{{Family: unix.AF_INET, Dst: gw4b, Src: gw4a, Proto: ProtoESP, Mode: 1, ReqID: uint32(i)}}}
		recs[i] = PolicyRecord(&p)
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		if err := sink.Apply(context.Background(), recs[:min(n, b.N-done)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "policies/s")
}
