package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/rest"
	"github.com/tandem-ha/tandem/northbound/service"
)

// restClients is how many concurrent HTTPS clients the REST benchmarks
// run, each with its own keep-alive connection, as a load tool would.
const restClients = 16

// restBench is the REST server on loopback TLS over a datastore holding
// the largest configuration (4 nodes, 4 VGs, 16 interfaces: 52 KiB).
type restBench struct {
	url    string
	pw     string
	client *http.Client
}

func startRESTBench(b *testing.B) *restBench {
	b.Helper()
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "config.db"), store.Options{Validate: validate.StoreValidator, Initial: clusterConfig(b, 16), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	backend := &service.Backend{Store: st, Tree: telemetry.NewTree("BENCH-1"), Auth: a, TLS: tlsConf}
	srv, err := rest.New(backend, rest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, tls.NewListener(lis, tlsConf)) }()
	b.Cleanup(func() { cancel(); <-done })
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: restClients} //nolint:gosec // loopback benchmark
	return &restBench{url: "https://" + lis.Addr().String(), pw: strings.TrimSpace(string(pw)), client: &http.Client{Transport: tr}}
}

// load runs b.N requests from restClients goroutines and reports
// requests per second and the latency percentiles.
func (rb *restBench) load(b *testing.B, newReq func(i int) *http.Request, want int) {
	b.Helper()
	var next atomic.Int64
	lat := make([][]time.Duration, restClients)
	var wg sync.WaitGroup
	var failed atomic.Value
	// One request first: the password's slow hash is verified once and
	// then cached, as for any client sending basic credentials.
	warm, _ := http.NewRequest("GET", rb.url+"/restconf", nil)
	warm.SetBasicAuth("admin", rb.pw)
	if resp, err := rb.client.Do(warm); err == nil {
		resp.Body.Close()
	}
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < restClients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				req := newReq(i)
				req.SetBasicAuth("admin", rb.pw)
				t0 := time.Now()
				resp, err := rb.client.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[c] = append(lat[c], time.Since(t0))
				if resp.StatusCode != want {
					failed.Store(fmt.Sprintf("status %d, want %d", resp.StatusCode, want))
					return
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// GET of the whole running configuration (content=config: 52 KiB of
// RFC 7951 JSON) by 16 concurrent clients.
func BenchmarkRESTGetFullTree(b *testing.B) {
	rb := startRESTBench(b)
	rb.load(b, func(int) *http.Request {
		r, _ := http.NewRequest("GET", rb.url+"/restconf/data?content=config", nil)
		return r
	}, http.StatusOK)
}

// Small PATCH commits (one leaf, each a validated, fsynced revision of
// the 52 KiB configuration) by 16 concurrent clients.
func BenchmarkRESTPatchCommit(b *testing.B) {
	rb := startRESTBench(b)
	rb.load(b, func(i int) *http.Request {
		body := fmt.Sprintf(`{"tandem-system:config": {"reconcile-interval": %d}}`, 1+i%3600)
		r, _ := http.NewRequest("PATCH", rb.url+"/restconf/data/tandem-system:system/config", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/yang-data+json")
		return r
	}, http.StatusNoContent)
}
