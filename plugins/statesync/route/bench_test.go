package route

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// BenchmarkSinkApply measures routes per second installed into a kernel
// routing table, in stream-sized batches of 256 (each batch reads the
// main table once).
func BenchmarkSinkApply(b *testing.B) {
	needRoot(b)
	ns := netnstest.New(b, nsPrefix, "bench")
	ns.Run(b, "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lanp")
	ns.Run(b, "ip", "link", "set", "lan0", "up")
	sink, err := NewSink(SinkConfig{NetNS: ns.FD})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	const n = 4096
	recs := make([]channel.Record, n)
	for i := range recs {
		r := via(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 100, byte(i >> 8), byte(i)}), 32).String(), "10.240.0.9", "lan0", 20)
		recs[i] = UpsertRecord(&r)
	}
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		for i := 0; i < n && done < b.N; i += 256 {
			k := min(256, n-i, b.N-done)
			if err := sink.Apply(context.Background(), recs[i:i+k]); err != nil {
				b.Fatal(err)
			}
			done += k
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "routes/s")
}

// BenchmarkEncode measures the record encoding of an IPv4 route.
func BenchmarkEncode(b *testing.B) {
	r := via("10.50.0.0/16", "10.230.0.9", "lan0", 20)
	var n int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rec := UpsertRecord(&r)
		n = len(rec.Key) + len(rec.Value)
	}
	b.ReportMetric(float64(n), "bytes/record")
}
