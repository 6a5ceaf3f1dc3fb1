package conntrack

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// applyChunked applies recs in stream-sized batches.
func applyChunked(b *testing.B, sink *Sink, recs []channel.Record) {
	for i := 0; i < len(recs); i += 1024 {
		if err := sink.Apply(b.Context(), recs[i:min(i+1024, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSinkApply measures records per second installed into the
// kernel: new entries (create) and changes of existing ones (update).
func BenchmarkSinkApply(b *testing.B) {
	needRoot(b)
	for _, mode := range []string{"create", "update"} {
		b.Run(mode, func(b *testing.B) {
			ns := netnstest.New(b, nsPrefix, "bench")
			sink, err := NewSink(SinkConfig{NetNS: ns.FD, IsLocal: func(netip.Addr) bool { return false }})
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			n := min(b.N, 200000) // the table's global limit is nf_conntrack_max
			flows := syntheticFlows(n)
			if mode == "update" {
				applyChunked(b, sink, upserts(flows))
				for i := range flows {
					flows[i].Mark = 1
				}
			}
			recs := upserts(flows)
			b.ResetTimer()
			start := time.Now()
			for done := 0; done < b.N; done += n {
				applyChunked(b, sink, recs[:min(n, b.N-done)])
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// eventMessage encodes f as the kernel encodes a conntrack UPDATE event
// (attributes after the nfgenmsg).
func eventMessage(f *Flow) []byte {
	e := attrEncoder{}
	putTuple(&e, ctaTupleOrig, f.Orig)
	putTuple(&e, ctaTupleReply, f.Reply)
	e.be32(12, 0x12345678) // CTA_ID
	e.be32(ctaStatus, uint32(f.Status))
	e.be32(ctaTimeout, f.Timeout)
	putProtoinfo(&e, f)
	e.be32(ctaMark, f.Mark)
	return e.b
}

// BenchmarkSourceEncode measures the active's per-event path: decode the
// kernel's event, update the Source's table, encode the record.
func BenchmarkSourceEncode(b *testing.B) {
	flows := syntheticFlows(4096)
	msgs := make([][]byte, len(flows))
	for i := range flows {
		flows[i].Reply.Dst = v4n // SNAT'd, the common firewall case
		msgs[i] = eventMessage(&flows[i])
	}
	s, err := NewSource(SourceConfig{IsLocal: func(netip.Addr) bool { return false }})
	if err != nil {
		b.Fatal(err)
	}
	var out []channel.Record
	var bytes int
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := parseFlow(2, msgs[i%len(msgs)])
		if err != nil {
			b.Fatal(err)
		}
		out = s.table.observe(obsUpdate, f, now, time.Time{}, out[:0])
		for _, r := range out {
			bytes += len(r.Key) + len(r.Value)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/record")
}

// BenchmarkSnapshot measures a bulk-sync dump of tables of 10k and 100k
// entries (injected through a Sink).
func BenchmarkSnapshot(b *testing.B) {
	needRoot(b)
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			ns := netnstest.New(b, nsPrefix, "snap")
			sink, err := NewSink(SinkConfig{NetNS: ns.FD, IsLocal: func(netip.Addr) bool { return false }})
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			applyChunked(b, sink, upserts(syntheticFlows(n)))
			src, err := NewSource(SourceConfig{NetNS: ns.FD, IsLocal: func(netip.Addr) bool { return false }})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				recs, err := src.Snapshot(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				if len(recs) != n {
					b.Fatalf("snapshot of %d entries, want %d", len(recs), n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
