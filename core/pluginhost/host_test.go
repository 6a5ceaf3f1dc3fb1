package pluginhost_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/pluginhost"
	"github.com/tandem-ha/tandem/core/pluginhost/pluginhosttest"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Plugin binaries, built once per test run (not with -race: they are the
// processes under test, the host is what -race checks here).
var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

func binaries(t *testing.T) (testPlugin, labPlugin string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "tdm-pluginhost-bin-")
		if binErr != nil {
			return
		}
		pluginhosttest.Build(t, "./testdata/testplugin", binDir, "testplugin")
		pluginhosttest.Build(t, "github.com/tandem-ha/tandem/platforms/lab", binDir, "lab")
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "testplugin"), filepath.Join(binDir, "lab")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// install copies the executable src into dir/name, as a vendor would drop it.
func install(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startHost(t *testing.T, cfg pluginhost.Config) (*pluginhost.Host, *pluginhosttest.Recorder) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	h := pluginhost.New(cfg)
	rec := pluginhosttest.Record(h)
	t.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return h, rec
}

func mustRunning(t *testing.T, h *pluginhost.Host, name string) pluginhost.Status {
	t.Helper()
	st, ok := pluginhosttest.WaitStatus(h, name, 20*time.Second, func(s pluginhost.Status) bool { return s.State == pluginhost.StateRunning })
	if !ok {
		t.Fatalf("plugin %q not running: %+v (all: %+v)", name, st, h.Plugins())
	}
	return st
}

func applyOK(t *testing.T, h *pluginhost.Host, name string, in *sdk.Intent) *sdk.ApplyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := h.Apply(ctx, name, in)
	if err != nil {
		t.Fatalf("Apply(%s): %v", name, err)
	}
	return res
}

// TestPluginCrashIsRestarted kills (SIGKILL) a real lab platform plugin
// process twice and the test plugin once, and checks that the host notices at
// once, keeps serving the other plugin meanwhile, restarts the dead one after
// an exponentially growing backoff, announces it with a "restarted" event so
// the reconciler re-applies, re-subscribes its Watch stream, counts the
// restarts, and that Apply works again afterwards.
func TestPluginCrashIsRestarted(t *testing.T) {
	testBin, labBin := binaries(t)
	dir := t.TempDir()
	install(t, testBin, dir, "tandem-plugin-test")
	install(t, labBin, dir, "tandem-platform-lab")

	const backoffMin = 400 * time.Millisecond
	h, rec := startHost(t, pluginhost.Config{
		Dir:            dir,
		HealthInterval: 200 * time.Millisecond,
		BackoffMin:     backoffMin,
		BackoffMax:     5 * time.Second,
	})
	lab := mustRunning(t, h, "lab")
	test := mustRunning(t, h, "test")
	if lab.Kind != sdk.KindPlatform || !slices.Equal(lab.Platforms, []string{"lab"}) || lab.File != "tandem-platform-lab" {
		t.Fatalf("lab status = %+v", lab)
	}
	if lab.PID == 0 || test.PID == 0 || lab.PID == test.PID {
		t.Fatalf("PIDs: lab %d test %d", lab.PID, test.PID)
	}
	intent := &sdk.Intent{Revision: 7, Role: sdk.RoleActive, Platform: &sdk.PlatformSpec{}}
	if res := applyOK(t, h, "lab", intent); res.GetChanges() != 0 {
		t.Fatalf("empty intent made %d changes", res.GetChanges())
	}

	// Initial events are delivered before the crashes start.
	for _, name := range []string{"lab", "test"} {
		if _, _, ok := rec.WaitFor(0, 5*time.Second, func(e pluginhost.Event) bool {
			return e.Type == pluginhost.EventStarted && e.Plugin == name && !e.Restarted
		}); !ok {
			t.Fatalf("no initial started event for %s", name)
		}
	}

	prevPID := lab.PID
	for round := 1; round <= 2; round++ {
		mark := rec.Len()
		killed := time.Now()
		if err := syscall.Kill(prevPID, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %d: %v", prevPID, err)
		}

		// The host notices the exit without waiting for a health check.
		st, ok := pluginhosttest.WaitStatus(h, "lab", 2*time.Second, func(s pluginhost.Status) bool { return s.State == pluginhost.StateBackoff })
		if !ok {
			t.Fatalf("round %d: host did not notice the crash: %+v", round, st)
		}
		noticed := time.Since(killed)
		if st.LastError == "" || st.PID != 0 {
			t.Fatalf("round %d: backoff status = %+v", round, st)
		}

		// Meanwhile: the dead plugin fails fast, the others keep answering.
		t0 := time.Now()
		_, err := h.Apply(context.Background(), "lab", intent)
		if !errors.Is(err, pluginhost.ErrPluginDown) {
			t.Fatalf("round %d: Apply on dead plugin: err = %v, want ErrPluginDown", round, err)
		}
		if d := time.Since(t0); d > 100*time.Millisecond {
			t.Fatalf("Apply on a dead plugin took %v", d)
		}
		res := applyOK(t, h, "test", intent)
		if w := fmt.Sprintf("pid=%d", test.PID); !slices.Contains(res.GetWarnings(), w) {
			t.Fatalf("test plugin answered from another process: %v, want %s", res.GetWarnings(), w)
		}
		if len(h.Plugins()) != 2 {
			t.Fatalf("Plugins() = %+v", h.Plugins())
		}

		ev, _, ok := rec.WaitFor(mark, 15*time.Second, func(e pluginhost.Event) bool {
			return e.Type == pluginhost.EventStarted && e.Plugin == "lab" && e.Restarted
		})
		if !ok {
			t.Fatalf("round %d: no started event for lab; status %+v", round, h.Plugins())
		}
		restartedAfter := ev.Time.Sub(killed)
		// Backoff doubles: 400ms, then 800ms.
		wantBackoff := backoffMin << (round - 1)
		t.Logf("round %d: crash noticed after %v, restarted after %v (backoff %v)", round, noticed, restartedAfter, wantBackoff)
		if !ev.Restarted || ev.Status.Restarts != round || ev.Status.PID == 0 || ev.Status.PID == prevPID {
			t.Fatalf("round %d: started event = %+v", round, ev)
		}
		if restartedAfter < wantBackoff {
			t.Fatalf("round %d: restarted after %v, before the %v backoff", round, restartedAfter, wantBackoff)
		}
		// The state changes were announced too.
		var states []pluginhost.State
		for _, e := range rec.Events()[mark:] {
			if e.Type == pluginhost.EventStateChanged && e.Plugin == "lab" {
				states = append(states, e.Status.State)
			}
		}
		if want := []pluginhost.State{pluginhost.StateBackoff, pluginhost.StateStarting, pluginhost.StateRunning}; !slices.Equal(states, want) {
			t.Fatalf("round %d: lab state events %v, want %v", round, states, want)
		}

		// The reconciler's part: re-give the intent. Apply works again.
		if res := applyOK(t, h, "lab", intent); res.GetChanges() != 0 {
			t.Fatalf("round %d: re-apply made %d changes", round, res.GetChanges())
		}
		st, _ = h.Plugin("lab")
		if st.State != pluginhost.StateRunning || st.Restarts != round || st.PID != ev.Status.PID {
			t.Fatalf("round %d: status after restart = %+v", round, st)
		}
		prevPID = st.PID
	}
	if st, _ := h.Plugin("test"); st.Restarts != 0 || st.PID != test.PID {
		t.Fatalf("the test plugin was disturbed: %+v", st)
	}

	// Kill the test plugin: its Watch stream is subscribed again after the
	// restart (the test plugin emits one observation per subscription).
	mark := rec.Len()
	if err := syscall.Kill(test.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev, _, ok := rec.WaitFor(mark, 15*time.Second, func(e pluginhost.Event) bool {
		return e.Type == pluginhost.EventObservation && e.Plugin == "test" &&
			e.Observation.GetLink().GetNetdev() != fmt.Sprintf("pid%d", test.PID)
	})
	if !ok {
		t.Fatalf("no observation from the restarted test plugin")
	}
	st, _ := h.Plugin("test")
	if want := fmt.Sprintf("pid%d", st.PID); ev.Observation.GetLink().GetNetdev() != want || st.Restarts != 1 {
		t.Fatalf("observation %v from status %+v, want netdev %s", ev.Observation, st, want)
	}
	applyOK(t, h, "test", intent)
	applyOK(t, h, "lab", intent)
}

// TestHungPluginIsKilledAndRestarted stops (SIGSTOP) a plugin: its process is
// alive but does not answer, so only the health check can tell. The host
// kills it and starts a new one.
func TestHungPluginIsKilledAndRestarted(t *testing.T) {
	testBin, _ := binaries(t)
	dir := t.TempDir()
	install(t, testBin, dir, "tandem-plugin-test")
	h, rec := startHost(t, pluginhost.Config{
		Dir:            dir,
		HealthInterval: 150 * time.Millisecond,
		HealthTimeout:  150 * time.Millisecond,
		BackoffMin:     50 * time.Millisecond,
	})
	st := mustRunning(t, h, "test")
	mark := rec.Len()
	if err := syscall.Kill(st.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(st.PID, syscall.SIGKILL) })
	ev, _, ok := rec.WaitFor(mark, 10*time.Second, func(e pluginhost.Event) bool {
		return e.Type == pluginhost.EventStarted && e.Plugin == "test" && e.Restarted
	})
	if !ok {
		t.Fatalf("hung plugin not restarted: %+v", h.Plugins())
	}
	if !ev.Restarted || ev.Status.PID == st.PID || ev.Status.Restarts != 1 {
		t.Fatalf("started event = %+v", ev)
	}
	if ev.Status.LastError == "" {
		t.Fatalf("no LastError after a hang: %+v", ev.Status)
	}
	// The old process is gone (killed, then reaped by go-plugin).
	if err := syscall.Kill(st.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("hung process %d still exists: %v", st.PID, err)
	}
	applyOK(t, h, "test", &sdk.Intent{})
}

// TestBrokenPluginIsMarkedFailed: a "plugin" that dies at once is retried
// with backoff, then marked failed; the good plugin next to it is unaffected.
func TestBrokenPluginIsMarkedFailed(t *testing.T) {
	testBin, _ := binaries(t)
	dir := t.TempDir()
	install(t, testBin, dir, "tandem-plugin-test")
	if err := os.WriteFile(filepath.Join(dir, "tandem-plugin-broken"), []byte("#!/bin/sh\necho boom >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h, rec := startHost(t, pluginhost.Config{
		Dir:              dir,
		BackoffMin:       20 * time.Millisecond,
		MaxRapidFailures: 4,
	})
	mustRunning(t, h, "test")
	ev, _, ok := rec.WaitFor(0, 20*time.Second, func(e pluginhost.Event) bool {
		return e.Type == pluginhost.EventStateChanged && e.Plugin == "broken" && e.Status.State == pluginhost.StateFailed
	})
	if !ok {
		t.Fatalf("broken plugin not marked failed: %+v", h.Plugins())
	}
	if ev.Status.Restarts != 3 || ev.Status.LastError == "" {
		t.Fatalf("failed status = %+v", ev.Status)
	}
	if _, err := h.Apply(context.Background(), "broken", &sdk.Intent{}); !errors.Is(err, pluginhost.ErrPluginDown) {
		t.Fatalf("Apply on failed plugin: %v", err)
	}
	if st, _ := h.Plugin("test"); st.State != pluginhost.StateRunning || st.Restarts != 0 {
		t.Fatalf("good plugin disturbed: %+v", st)
	}
	applyOK(t, h, "test", &sdk.Intent{})
	// Restart gives it another series of attempts.
	mark := rec.Len()
	if err := h.Restart("broken"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := rec.WaitFor(mark, 20*time.Second, func(e pluginhost.Event) bool {
		return e.Type == pluginhost.EventStateChanged && e.Plugin == "broken" && e.Status.State == pluginhost.StateFailed
	}); !ok {
		t.Fatalf("broken plugin not failed again after Restart: %+v", h.Plugins())
	}
}

// SPEC: PLAT-6
// TestPlatformPluginDropIn: a platform driver built separately from the core
// (here the lab driver, built by `go build` on its own) is dropped into the
// plugin directory; the unchanged core discovers it, learns from Describe
// which platform it claims, and uses it.
func TestPlatformPluginDropIn(t *testing.T) {
	_, labBin := binaries(t)
	dir := t.TempDir()
	install(t, labBin, dir, "tandem-platform-lab")
	// Files the discovery rule must ignore.
	install(t, labBin, dir, "tandem-platform-lab.bak")
	if err := os.WriteFile(filepath.Join(dir, "tandem-platform-noexec"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}

	h, _ := startHost(t, pluginhost.Config{Dir: dir})
	if got := h.Plugins(); len(got) != 1 || got[0].File != "tandem-platform-lab" {
		t.Fatalf("discovered %+v, want only tandem-platform-lab", got)
	}
	mustRunning(t, h, "lab")
	drv, ok := h.PlatformDriver("lab")
	if !ok {
		t.Fatalf("no platform driver claims %q: %+v", "lab", h.Plugins())
	}
	if drv.Name != "lab" || drv.Kind != sdk.KindPlatform || drv.Version == "" {
		t.Fatalf("driver = %+v", drv)
	}
	if _, ok := h.PlatformDriver("tz"); ok {
		t.Fatal("a driver claims platform tz")
	}
	res := applyOK(t, h, drv.Name, &sdk.Intent{Revision: 1, Role: sdk.RoleStandalone, Platform: &sdk.PlatformSpec{}})
	if res.GetChanges() != 0 {
		t.Fatalf("empty platform intent made %d changes", res.GetChanges())
	}
	// A port whose netdev does not exist: the error names port and netdev.
	_, err := h.Apply(context.Background(), drv.Name, &sdk.Intent{Platform: &sdk.PlatformSpec{Ports: []*sdk.Port{{Name: "X9", Netdev: "tdm-nonexistent0"}}}})
	if err == nil || !containsAll(err.Error(), "X9", "tdm-nonexistent0") {
		t.Fatalf("unknown netdev: err = %v", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	files := []struct {
		name string
		mode os.FileMode
		want bool
	}{
		{"tandem-platform-lab", 0o755, true},
		{"tandem-plugin-statesync", 0o700, true},
		{"tandem-plugin-svrrp_2", 0o755, true},
		{"tandem-platform-tz.bak", 0o755, false},
		{"tandem-platform-nsa~", 0o755, false},
		{"tandem-platform-", 0o755, false},
		{"tandem-platform-sm", 0o644, false},
		{"tandem-plugin-Upper", 0o755, false},
		{"other-binary", 0o755, false},
	}
	var want []string
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte("#!/bin/sh\n"), f.mode); err != nil {
			t.Fatal(err)
		}
		if f.want {
			want = append(want, filepath.Join(dir, f.name))
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "tandem-plugin-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "tandem-platform-lab"), filepath.Join(dir, "tandem-platform-link")); err != nil {
		t.Fatal(err)
	}
	want = append(want, filepath.Join(dir, "tandem-platform-link"))
	slices.Sort(want)
	got, skipped, err := pluginhost.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Discover = %v\nwant %v\nskipped %v", got, want, skipped)
	}
	if _, _, err := pluginhost.Discover(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Discover of a missing directory: no error")
	}
}

func TestStopWithoutStartAndEmptyDir(t *testing.T) {
	h := pluginhost.New(pluginhost.Config{Dir: t.TempDir(), Logger: testLogger(t)})
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err == nil {
		t.Fatal("second Start: no error")
	}
	if _, err := h.Apply(context.Background(), "nope", &sdk.Intent{}); err == nil {
		t.Fatal("Apply to an unknown plugin: no error")
	}
	h.Stop()
	h.Stop()
	if _, ok := <-h.Events(); ok {
		t.Fatal("Events not closed after Stop")
	}
	h2 := pluginhost.New(pluginhost.Config{Dir: "/nonexistent-tdm-dir", Logger: testLogger(t)})
	defer h2.Stop()
	if err := h2.Start(context.Background()); err == nil {
		t.Fatal("Start with a missing directory: no error")
	}
}
