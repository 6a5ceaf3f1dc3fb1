package bench

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The REST benchmarks again, under wrk (Debian's wrk, `make bench`
// installs it): 2 threads, 16 keep-alive connections, 10 seconds. wrk
// reports requests per second and the latency distribution; the
// benchmark reports them as metrics (req/s, p50-ms, p99-ms).

// wrkScript sends the requests; for PATCH each request carries a
// different value, so that every one is a real commit.
const wrkScript = `
local n = 0
request = function()
  n = n + 1
  local body = nil
  local headers = {["Authorization"] = %q}
  if %q == "PATCH" then
    body = '{"tandem-system:config": {"reconcile-interval": ' .. (1 + n %% 3600) .. '}}'
    headers["Content-Type"] = "application/yang-data+json"
  end
  return wrk.format(%q, nil, headers, body)
end
`

func runWrk(b *testing.B, method, path string) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed (apt-get install wrk; make bench installs it)")
	}
	rb := startRESTBench(b)
	authz := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+rb.pw))
	script := filepath.Join(b.TempDir(), "req.lua")
	lua := []byte(fmt.Sprintf(wrkScript, authz, method, method))
	if err := os.WriteFile(script, lua, 0o600); err != nil {
		b.Fatal(err)
	}
	// Warm the password cache as any client sending basic credentials would.
	_ = exec.Command("curl", "-sk", "-u", "admin:"+rb.pw, rb.url+"/restconf").Run()
	b.ResetTimer()
	out, err := exec.Command(wrk, "-t2", "-c16", "-d10s", "--latency", "-s", script, rb.url+path).CombinedOutput()
	b.StopTimer()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	rps := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
	p50 := regexp.MustCompile(`\s50%\s+([0-9.]+)(us|ms|s)`).FindSubmatch(out)
	p99 := regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`).FindSubmatch(out)
	errs := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out)
	if rps == nil || p50 == nil || p99 == nil || errs != nil {
		b.Fatalf("wrk output not understood or requests failed:\n%s", out)
	}
	r, _ := strconv.ParseFloat(string(rps[1]), 64)
	b.ReportMetric(r, "req/s")
	b.ReportMetric(ms(p50[1], p50[2]), "p50-ms")
	b.ReportMetric(ms(p99[1], p99[2]), "p99-ms")
}

func ms(v, unit []byte) float64 {
	f, _ := strconv.ParseFloat(string(v), 64)
	d := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(unit)]
	return f * float64(d) / float64(time.Millisecond)
}

// GET of the whole 52 KiB running configuration under wrk.
func BenchmarkRESTWrkGetFullTree(b *testing.B) {
	runWrk(b, "GET", "/restconf/data?content=config")
}

// One-leaf PATCH commits of the 52 KiB configuration under wrk.
func BenchmarkRESTWrkPatchCommit(b *testing.B) {
	runWrk(b, "PATCH", "/restconf/data/tandem-system:system/config")
}
