package conntrack

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// syntheticFlows returns n distinct established IPv4 TCP flows.
func syntheticFlows(n int) []Flow {
	out := make([]Flow, n)
	for i := range out {
		src := netip.AddrFrom4([4]byte{10, 77, byte(i >> 16), byte(i >> 8)})
		out[i] = tcpFlow(src, v4b, uint16(1024+i%60000), 443)
		out[i].Timeout = 3600
	}
	return out
}

func upserts(flows []Flow) []channel.Record {
	recs := make([]channel.Record, len(flows))
	for i := range flows {
		recs[i] = UpsertRecord(&flows[i])
	}
	return recs
}

// TestOverrunReportedSYNC1: when the event socket overruns (ENOBUFS,
// forced with a tiny receive buffer and a burst of new entries), the
// Source counts it and calls lost, and a Snapshot then holds every entry:
// the stream can resync.
func TestOverrunReportedSYNC1(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fw := netnstest.New(t, nsPrefix, "ovr")
	local, err := NewLocalAddrs(ctx, fw.FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(SourceConfig{NetNS: fw.FD, IsLocal: local.Contains, ReadBuffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, fw)
	t.Cleanup(cancel)
	sink, err := NewSink(SinkConfig{NetNS: fw.FD, IsLocal: local.Contains})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	const burst = 20000
	if err := sink.Apply(ctx, upserts(syntheticFlows(burst))); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); src.Stats().Overruns == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no overrun counted after a burst of %d events into a tiny buffer (stats %+v)", burst, src.Stats())
		}
	}
	lost := rec.LostReasons()
	if len(lost) == 0 || !strings.Contains(lost[0], "ENOBUFS") {
		t.Fatalf("lost was called with %q, want an ENOBUFS reason", lost)
	}
	st := src.Stats()
	if got := st.EventsNew; got >= burst {
		t.Errorf("all %d events arrived despite the overrun?", got)
	}
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) < burst {
		t.Errorf("resync snapshot holds %d entries, want %d", len(snap), burst)
	}
	t.Logf("overruns %d, events seen %d of %d, snapshot %d", st.Overruns, st.EventsNew, burst, len(snap))
}
