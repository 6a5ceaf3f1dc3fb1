package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/gnmi"
	"github.com/tandem-ha/tandem/northbound/service"
)

// subscribers is how many concurrent STREAM subscribers the gNMI
// benchmarks serve.
const subscribers = 100

// gnmiBench is a gNMI server on loopback with its own datastore and state
// tree, and subscribers STREAM ON_CHANGE subscriptions to /system/plugins,
// each on its own TLS connection, as separate collectors would have.
type gnmiBench struct {
	tree *telemetry.Tree
	// onNotification is called by every subscriber for every update it
	// receives after sync_response, with the receive time.
	mu             sync.Mutex
	onNotification func(n *gpb.Notification, at time.Time)
}

func startGNMIBench(b *testing.B) *gnmiBench {
	b.Helper()
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "config.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	a, err := auth.New(dir)
	if err != nil {
		b.Fatal(err)
	}
	tlsConf, err := auth.TLS(dir, "", "")
	if err != nil {
		b.Fatal(err)
	}
	pw, err := os.ReadFile(filepath.Join(dir, auth.BootstrapFile))
	if err != nil {
		b.Fatal(err)
	}
	pem, err := os.ReadFile(auth.CertFile(dir))
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	g := &gnmiBench{tree: telemetry.NewTree("BENCH-1")}
	backend := &service.Backend{Store: st, Tree: g.tree, Auth: a, TLS: tlsConf}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = gnmi.New(gnmi.Options{}).ServeListener(ctx, backend, lis) }()
	b.Cleanup(func() { cancel(); <-done })

	var synced sync.WaitGroup
	for i := range subscribers {
		conn, err := grpc.NewClient(lis.Addr().String(),
			grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost"})),
			grpc.WithPerRPCCredentials(benchCreds(strings.TrimSpace(string(pw)))))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		sub, err := gpb.NewGNMIClient(conn).Subscribe(ctx)
		if err != nil {
			b.Fatalf("subscriber %d: %v", i, err)
		}
		err = sub.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
			Mode: gpb.SubscriptionList_STREAM, Encoding: gpb.Encoding_PROTO, UpdatesOnly: true,
			Subscription: []*gpb.Subscription{{Path: &gpb.Path{Elem: []*gpb.PathElem{{Name: "system"}, {Name: "plugins"}}}, Mode: gpb.SubscriptionMode_ON_CHANGE}},
		}}})
		if err != nil {
			b.Fatal(err)
		}
		synced.Add(1)
		go func() {
			for {
				r, err := sub.Recv()
				if err != nil {
					return
				}
				if r.GetSyncResponse() {
					synced.Done()
					continue
				}
				at := time.Now()
				g.mu.Lock()
				fn := g.onNotification
				g.mu.Unlock()
				if fn != nil {
					fn(r.GetUpdate(), at)
				}
			}
		}()
	}
	synced.Wait()
	return g
}

func (g *gnmiBench) setHandler(fn func(*gpb.Notification, time.Time)) {
	g.mu.Lock()
	g.onNotification = fn
	g.mu.Unlock()
}

type benchCreds string

func (c benchCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"username": auth.BootstrapUser, "password": string(c)}, nil
}
func (benchCreds) RequireTransportSecurity() bool { return true }

// pluginLeaf is the state leaf the benchmarks write: the restart counter
// of one of 1000 plugins, so that consecutive writes are distinct leaves.
func pluginLeaf(i int) string {
	return fmt.Sprintf("/system/plugins/plugin[name=p%03d]/state/restarts", i%1000)
}

// BenchmarkGNMIStreamFanout100 writes state leaves as fast as the state
// tree takes them and reports how many updates per second reach the 100
// STREAM ON_CHANGE subscribers together (updates/s), and which share of
// the writes each subscriber received (a subscriber that falls behind
// gets the latest value of a leaf, not every value).
func BenchmarkGNMIStreamFanout100(b *testing.B) {
	g := startGNMIBench(b)
	var received atomic.Int64
	last := make(chan struct{}, subscribers)
	var final atomic.Uint64
	g.setHandler(func(n *gpb.Notification, _ time.Time) {
		received.Add(1)
		if u := n.GetUpdate(); len(u) == 1 && u[0].GetVal().GetUintVal() == final.Load() {
			last <- struct{}{}
		}
	})
	writes := 0
	start := time.Now()
	for b.Loop() {
		if err := g.tree.Update(pluginLeaf(writes), uint64(writes)); err != nil {
			b.Fatal(err)
		}
		writes++
	}
	// A last, unique value marks the end for every subscriber.
	final.Store(uint64(1 << 31))
	if err := g.tree.Update(pluginLeaf(writes), uint64(1<<31)); err != nil {
		b.Fatal(err)
	}
	for range subscribers {
		select {
		case <-last:
		case <-time.After(30 * time.Second):
			b.Fatal("not every subscriber received the last update within 30 s")
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(received.Load())/elapsed.Seconds(), "updates/s")
	b.ReportMetric(100*float64(received.Load())/float64(subscribers*(writes+1)), "%delivered")
}

// BenchmarkGNMIChangeToDelivery100 writes one state leaf every 10 ms
// (100 changes a second, 10,000 deliveries) and measures, for each of the 100 STREAM ON_CHANGE
// subscribers, the time from the write (the notification's timestamp,
// taken by the state tree) to the notification's arrival at the client:
// p50 and p99 over all deliveries.
func BenchmarkGNMIChangeToDelivery100(b *testing.B) {
	g := startGNMIBench(b)
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	g.setHandler(func(n *gpb.Notification, at time.Time) {
		d := at.Sub(time.Unix(0, n.GetTimestamp()))
		mu.Lock()
		lats = append(lats, d)
		mu.Unlock()
	})
	i := 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for b.Loop() {
		<-tick.C
		if err := g.tree.Update(pluginLeaf(i), uint64(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	time.Sleep(200 * time.Millisecond) // the last deliveries
	mu.Lock()
	defer mu.Unlock()
	if len(lats) == 0 {
		b.Fatal("no deliveries")
	}
	slices.Sort(lats)
	pct := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lats[len(lats)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(len(lats))/float64(i), "deliveries/write")
}
