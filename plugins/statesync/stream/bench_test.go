package stream

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// benchChannel is a light channel for benchmarks: the source emits what the benchmark
// gives it, the sink counts.
type benchChannel struct {
	mu       sync.Mutex
	emit     func(channel.Record)
	ready    chan struct{}
	snapshot []channel.Record
	applied  atomic.Int64
}

func newBench() *benchChannel { return &benchChannel{ready: make(chan struct{})} }

func (c *benchChannel) Name() string { return "conntrack" }
func (c *benchChannel) Snapshot(context.Context) ([]channel.Record, error) {
	return c.snapshot, nil
}
func (c *benchChannel) Watch(ctx context.Context, emit func(channel.Record), _ func(string)) error {
	c.mu.Lock()
	c.emit = emit
	close(c.ready)
	c.mu.Unlock()
	<-ctx.Done()
	return nil
}
func (c *benchChannel) Apply(_ context.Context, recs []channel.Record) error {
	c.applied.Add(int64(len(recs)))
	return nil
}
func (c *benchChannel) Replace(context.Context, []channel.Record) error { return nil }
func (c *benchChannel) Count() int                                      { return int(c.applied.Load()) }

// cpuTime is the process's CPU time (user and system) so far: on a shared machine it
// measures the cost better than the wall clock. It covers both endpoints (and the
// benchmark's own source and sink).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRecord is shaped like a conntrack update: a 37-byte key (tuple and zone), a
// 24-byte value (status, timeout, mark, TCP state).
func benchRecord(i int) channel.Record {
	k := make([]byte, 37)
	binary.BigEndian.PutUint64(k, uint64(i))
	return channel.Record{Op: channel.Upsert, Key: k, Value: make([]byte, 24)}
}

func benchPair(b testing.TB, encrypt bool, snapshot []channel.Record) (*Endpoint, *Endpoint, *benchChannel, *benchChannel) {
	ca, cb := listen(b), listen(b)
	src, dst := newBench(), newBench()
	src.snapshot = snapshot
	ac := Config{Key: testKey, Encrypt: encrypt, Logger: testLogger()}
	bc := ac
	ac.Conn, ac.Peer = ca, addrOf(cb)
	bc.Conn, bc.Peer = cb, addrOf(ca)
	a, err := New(ac, Channel{Source: src, Sink: src})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(bc, Channel{Source: dst, Sink: dst})
	if err != nil {
		b.Fatal(err)
	}
	a.SetRole(RoleActive)
	s.SetRole(RoleStandby)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.Run(ctx) })
	wg.Go(func() { _ = s.Run(ctx) })
	b.Cleanup(func() { cancel(); wg.Wait() })
	return a, s, src, dst
}

// BenchmarkEndToEnd: conntrack-sized updates from the active's source into the standby's
// sink over loopback UDP, authenticated (HMAC-SHA256) or encrypted (AES-256-GCM).
// Reports records/s (wall clock: depends on the machine's load), CPU per record (both
// endpoints, user and system), wire bytes per record (data; acknowledgements apart),
// retransmissions and the largest source-to-acknowledgement lag (a saturation run: it
// includes the time records wait in the queue).
func BenchmarkEndToEnd(b *testing.B) {
	for _, c := range []struct {
		name    string
		encrypt bool
	}{{"hmac", false}, {"aesgcm", true}} {
		b.Run(c.name, func(b *testing.B) {
			a, s, src, dst := benchPair(b, c.encrypt, nil)
			<-src.ready
			deadline := time.Now().Add(10 * time.Second)
			for !s.BulkComplete() {
				if time.Now().After(deadline) {
					b.Fatal("no bulk sync")
				}
				time.Sleep(time.Millisecond)
			}
			recs := make([]channel.Record, b.N)
			for i := range recs {
				recs[i] = benchRecord(i)
			}
			base := a.Stats()
			baseB := s.Stats()
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			for i, r := range recs {
				src.emit(r)
				if i%20000 == 19999 {
					for a.Stats().Queued > 200000 {
						time.Sleep(100 * time.Microsecond)
					}
				}
			}
			for dst.applied.Load() < int64(b.N) {
				if time.Since(start) > time.Minute {
					b.Fatalf("applied %d of %d; %+v", dst.applied.Load(), b.N, a.Stats())
				}
				time.Sleep(50 * time.Microsecond)
			}
			el := time.Since(start)
			b.StopTimer()
			sa, sb := a.Stats(), s.Stats()
			b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
			b.ReportMetric(float64(sa.BytesSent-base.BytesSent)/float64(b.N), "bytes/record")
			b.ReportMetric(float64(sb.BytesSent-baseB.BytesSent)/float64(b.N), "ack-bytes/record")
			b.ReportMetric(float64(sa.Retransmits-base.Retransmits), "retransmits")
			b.ReportMetric(float64(sa.LagMax.Microseconds()), "lag-max-µs")
			if sa.Resyncs != 0 {
				b.Fatalf("resync during the benchmark: %+v", sa)
			}
		})
	}
}

// BenchmarkBulkSync: a standby joins an active holding b.N conntrack-sized entries.
func BenchmarkBulkSync(b *testing.B) {
	snap := make([]channel.Record, b.N)
	for i := range snap {
		snap[i] = benchRecord(i)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	a, s, _, dst := benchPair(b, false, snap)
	for !s.BulkComplete() || dst.applied.Load() < int64(b.N) {
		if time.Since(start) > time.Minute {
			b.Fatalf("bulk sync: %d of %d", dst.applied.Load(), b.N)
		}
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "entries/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/entry")
	b.ReportMetric(float64(a.Stats().BytesSent)/float64(b.N), "bytes/entry")
}
