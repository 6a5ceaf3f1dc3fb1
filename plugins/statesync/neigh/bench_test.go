package neigh

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// BenchmarkSinkApply measures entries per second installed into a
// kernel neighbour table, in stream-sized batches of 256.
func BenchmarkSinkApply(b *testing.B) {
	needRoot(b)
	ns := netnstest.New(b, nsPrefix, "bench")
	ns.Run(b, "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lanp")
	ns.Run(b, "ip", "addr", "add", "10.0.0.1/8", "dev", "lan0")
	ns.Run(b, "ip", "link", "set", "lan0", "up")
	sink, err := NewSink(SinkConfig{NetNS: ns.FD, IsLocal: func(netip.Addr) bool { return false }})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	const n = 512 // below gc_thresh3 (1024), which only the initial namespace can raise
	recs := make([]channel.Record, n)
	for i := range recs {
		e := Entry{Ifname: "lan0", Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}),
			LLAddr: net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}}
		recs[i] = UpsertRecord(&e)
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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}

// BenchmarkEncode measures the record encoding of an IPv4 entry.
func BenchmarkEncode(b *testing.B) {
	e := Entry{Ifname: "lan0", Addr: netip.MustParseAddr("10.1.2.3"), LLAddr: net.HardwareAddr{2, 0, 0, 0, 1, 2}}
	var n int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := UpsertRecord(&e)
		n = len(r.Key) + len(r.Value)
	}
	b.ReportMetric(float64(n), "bytes/record")
}
