package gnmi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

// gnmicInstall is how scripts/deps.sh installs gnmic (see docs/gnmi.md).
const gnmicInstall = "scripts/deps.sh (gnmic v0.37.0 built from the Go module proxy into $GOBIN, see docs/gnmi.md)"

// gnmicBinary finds gnmic in PATH, $GOBIN or $HOME/go/bin, or skips.
func gnmicBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("gnmic"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "gnmic")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Skipf("skipping: gnmic is not installed (not in PATH, $GOBIN or $HOME/go/bin); install it with %s", gnmicInstall)
	return ""
}

// gnmicArgs are the global flags to reach u as user over TLS, trusting
// the unit's certificate.
func (u *unit) gnmicArgs(user string, args ...string) []string {
	return append([]string{"-a", u.addr, "-u", user, "-p", user + "-pw",
		"--tls-ca", u.certFile, "--tls-server-name", "localhost", "--format", "json", "--timeout", "10s"}, args...)
}

// gnmic runs gnmic to completion and returns its standard output.
func (u *unit) gnmic(t *testing.T, user string, args ...string) string {
	t.Helper()
	out, err := u.gnmicErr(t, user, args...)
	if err != nil {
		t.Fatalf("gnmic %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (u *unit) gnmicErr(t *testing.T, user string, args ...string) (string, error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, gnmicBinary(t), u.gnmicArgs(user, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a gnmic that keeps running (a stream or poll subscription).
type running struct {
	t     *testing.T
	out   *syncBuffer
	stdin io.WriteCloser
}

// start runs cmd until the test ends.
func start(t *testing.T, cmd *exec.Cmd) *running {
	t.Helper()
	r := &running{t: t, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	var err error
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return r
}

// waitFor waits until the output holds every one of parts after offset
// from, and returns the output's length then.
func (r *running) waitFor(from int, parts ...string) int {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := r.out.String()
		rest, all := out[min(from, len(out)):], true
		for _, p := range parts {
			all = all && strings.Contains(rest, p)
		}
		if all {
			return len(out)
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("gnmic output lacks %q after 10 s:\n%s", parts, rest)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// count is how often s occurs in the output after offset from.
func (r *running) count(from int, s string) int {
	out := r.out.String()
	return strings.Count(out[min(from, len(out)):], s)
}

// gnmic capabilities lists tandem's models and encodings.
func TestGnmicCapabilities(t *testing.T) {
	gnmicBinary(t)
	u := startUnit(t)
	out := u.gnmic(t, "rita", "capabilities")
	for _, s := range []string{"tandem-ha", "tandem-system", "2026-11-21", "JSON_IETF", "PROTO"} {
		if !strings.Contains(out, s) {
			t.Errorf("capabilities lack %s:\n%s", s, out)
		}
	}
	if out, err := u.gnmicErr(t, "mallory", "capabilities"); err == nil || !strings.Contains(out, "Unauthenticated") {
		t.Errorf("unknown user: %v\n%s", err, out)
	}
}

// gnmicValues reads the values of gnmic's JSON get output.
func gnmicValues(t *testing.T, out string) map[string]any {
	t.Helper()
	var resp []struct {
		Updates []struct {
			Values map[string]any `json:"values"`
		} `json:"updates"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("gnmic get output: %v\n%s", err, out)
	}
	vals := map[string]any{}
	for _, r := range resp {
		for _, u := range r.Updates {
			for k, v := range u.Values {
				vals[k] = v
			}
		}
	}
	return vals
}

// gnmic get reads configuration and state, by type, with wildcards and
// the target.
func TestGnmicGet(t *testing.T) {
	gnmicBinary(t)
	u := startUnit(t)
	vals := gnmicValues(t, u.gnmic(t, "rita", "-e", "json_ietf", "get", "--type", "CONFIG", "--path", "/ha/config/mode"))
	if vals["ha/config/mode"] != "standalone" {
		t.Errorf("mode: %v", vals)
	}
	out := u.gnmic(t, "rita", "-e", "proto", "get", "--type", "STATE", "--path", "/interfaces/interface[name=*]/state/oper-status")
	if vals := gnmicValues(t, out); vals["interfaces/interface/state/oper-status"] != "up" || !strings.Contains(out, `"interfaces/interface[name=X0]/state/oper-status"`) {
		t.Errorf("oper-status: %s", out)
	}
	out = u.gnmic(t, "rita", "-e", "json_ietf", "get", "--target", Alias, "--path", "/interfaces/interface[name=X0]")
	for _, s := range []string{`"192.0.2.1/24"`, `"oper-status": "up"`} {
		if !strings.Contains(out, s) {
			t.Errorf("X0 lacks %s:\n%s", s, out)
		}
	}
	if out, err := u.gnmicErr(t, "rita", "get", "--target", "another-unit", "--path", "/ha"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("another target: %v\n%s", err, out)
	}
}

// gnmic set: update, replace, union_replace and delete in one request,
// one revision.
func TestGnmicSet(t *testing.T) {
	gnmicBinary(t)
	u := startUnit(t)
	before := u.revision()
	// Values with commas go in files: gnmic splits --*-value at commas.
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out := u.gnmic(t, "alice", "-e", "json_ietf", "set",
		"--delete", "/interfaces/interface[name=X1]/config/ipv4-address",
		"--replace-path", "/interfaces/interface[name=X0]/config", "--replace-file", file("x0.json", `{"name": "X0", "zone": "dmz"}`),
		"--update-path", "/ha/config/preempt", "--update-value", "true",
		"--union-replace-path", "/interfaces/interface[name=X2]/config", "--union-replace-file", file("x2.json", `{"zone": "lan", "description": "gnmic"}`),
	)
	for _, s := range []string{"DELETE", "REPLACE", "UPDATE", "UNION_REPLACE"} {
		if !strings.Contains(out, s) {
			t.Errorf("set result lacks %s:\n%s", s, out)
		}
	}
	if got := u.revision(); got != before+1 {
		t.Errorf("revision %d, want %d", got, before+1)
	}
	cfg := u.runningJSON(t)
	for _, s := range []string{`"zone": "dmz"`, `"preempt": true`, `"description": "gnmic"`} {
		if !strings.Contains(cfg, s) {
			t.Errorf("running lacks %s", s)
		}
	}
	if strings.Contains(cfg, "198.51.100.1/24") || strings.Contains(cfg, "192.0.2.1/24") {
		t.Errorf("delete/replace not applied:\n%s", cfg)
	}
	// A read-only user is refused with the reason.
	if out, err := u.gnmicErr(t, "rita", "set", "--update-path", "/ha/config/preempt", "--update-value", "false"); err == nil || !strings.Contains(out, "PermissionDenied") {
		t.Errorf("rita: %v\n%s", err, out)
	}
}

// gnmic subscribe --mode once: the values, then the end.
func TestGnmicSubscribeOnce(t *testing.T) {
	gnmicBinary(t)
	u := startUnit(t)
	out := u.gnmic(t, "rita", "-e", "proto", "subscribe", "--mode", "once", "--path", "/ha/state")
	for _, s := range []string{`"ha/state/role": "standalone"`, `"ha/state/quality": 100`} {
		if !strings.Contains(out, s) {
			t.Errorf("once lacks %s:\n%s", s, out)
		}
	}
}

// gnmic subscribe --mode poll, driven through its interactive prompt on a
// terminal (script(1)): each poll returns the value of the moment.
func TestGnmicSubscribePoll(t *testing.T) {
	gnmicBinary(t)
	u := startUnit(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("skipping: script(1) (util-linux) is needed to give gnmic's poll prompt a terminal")
	}
	args := append([]string{gnmicBinary(t)}, u.gnmicArgs("rita", "-e", "proto", "subscribe", "--mode", "poll", "--path", role)...)
	for i, a := range args {
		args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	r := start(t, exec.Command("script", "-qfec", strings.Join(args, " "), "/dev/null"))
	at := r.waitFor(0, `"standalone"`, "select target to poll")
	u.set(t, role, "active")
	if _, err := io.WriteString(r.stdin, "\r"); err != nil {
		t.Fatal(err)
	}
	at = r.waitFor(at, "select subscription to poll")
	if _, err := io.WriteString(r.stdin, "\r"); err != nil {
		t.Fatal(err)
	}
	r.waitFor(at, `"active"`)
}

// gnmic subscribe --mode stream: on-change (with deletes), sample with
// suppress-redundant and heartbeat, target-defined, updates-only.
func TestGnmicSubscribeStream(t *testing.T) {
	gnmicBinary(t)
	gnmic := gnmicBinary(t)
	u := startUnit(t)
	onChange := start(t, exec.Command(gnmic, u.gnmicArgs("rita", "-e", "json_ietf", "subscribe", "--mode", "stream", "--stream-mode", "on-change",
		"--path", "/interfaces/interface/state", "--path", "/interfaces/interface[name=X0]/config/description")...))
	// --log makes gnmic say when it has sent its request (on stderr,
	// which start collects with stdout). In stream mode it does not print
	// sync_response; the Go tests check that.
	targetDefined := start(t, exec.Command(gnmic, u.gnmicArgs("rita", "--log", "-e", "proto", "subscribe", "--stream-mode", "target-defined", "--updates-only",
		"--path", role)...))
	sample := start(t, exec.Command(gnmic, u.gnmicArgs("rita", "-e", "proto", "subscribe", "--stream-mode", "sample",
		"--sample-interval", "100ms", "--path", "/ha/state/quality")...))
	suppressed := start(t, exec.Command(gnmic, u.gnmicArgs("rita", "-e", "proto", "subscribe", "--stream-mode", "sample",
		"--sample-interval", "100ms", "--suppress-redundant", "--heartbeat-interval", "1s", "--path", role)...))

	at := onChange.waitFor(0, `"up"`)
	supAt := suppressed.waitFor(0, `"standalone"`)
	tdAt := targetDefined.waitFor(0, "sending gNMI SubscribeRequest")
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(targetDefined.out.String(), "standalone") {
		t.Errorf("updates-only sent the current value:\n%s", targetDefined.out.String())
	}

	u.set(t, operStatus, "down")
	at = onChange.waitFor(at, `"down"`)
	if err := u.tree.Delete("/interfaces/interface[name=X0]/state"); err != nil {
		t.Fatal(err)
	}
	at = onChange.waitFor(at, `"deletes"`, "oper-status")
	if _, err := u.client(t, "alice").Set(ctx(t), &gpb.SetRequest{Update: []*gpb.Update{{
		Path: path(t, "/interfaces/interface[name=X0]/config/description"), Val: jsonIETF(`"via set"`),
	}}}); err != nil {
		t.Fatal(err)
	}
	onChange.waitFor(at, `"via set"`)

	u.set(t, role, "active")
	targetDefined.waitFor(tdAt, `"active"`)

	// Five samples of an unchanged quality in 500 ms; the suppressed
	// subscription sends the changed role once, then only the heartbeat.
	from := len(sample.out.String())
	time.Sleep(550 * time.Millisecond)
	if n := sample.count(from, `"ha/state/quality": 100`); n < 3 {
		t.Errorf("%d samples in 550 ms at 100 ms:\n%s", n, sample.out.String()[from:])
	}
	supAt = suppressed.waitFor(supAt, `"active"`)
	time.Sleep(400 * time.Millisecond)
	if n := suppressed.count(supAt, `"active"`); n > 1 {
		t.Errorf("suppress-redundant sent the unchanged role %d times in 400 ms", n)
	}
	suppressed.waitFor(supAt, `"active"`) // the heartbeat, at most 1 s after
}
