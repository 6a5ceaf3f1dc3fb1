package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// recordingApplier records every intent and fails while fail is set.
type recordingApplier struct {
	mu      sync.Mutex
	intents map[string][]*sdk.Intent
	order   []string // plugin names, in the order applied
	fail    error
}

func newRecordingApplier() *recordingApplier {
	return &recordingApplier{intents: map[string][]*sdk.Intent{}}
}

func (a *recordingApplier) Apply(_ context.Context, plugin string, in *sdk.Intent) (*sdk.ApplyResult, error) {
	a.mu.Lock()
	a.intents[plugin] = append(a.intents[plugin], in)
	a.order = append(a.order, plugin)
	err := a.fail
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &sdk.ApplyResult{Changes: 1}, nil
}

func (a *recordingApplier) setFail(err error) {
	a.mu.Lock()
	a.fail = err
	a.mu.Unlock()
}

func (a *recordingApplier) count(plugin string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.intents[plugin])
}

type mapSink struct {
	mu sync.Mutex
	m  map[string]any
}

func (s *mapSink) Update(path string, v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[path] = v
	return nil
}

func (s *mapSink) get(path string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[path]
}

func start(t *testing.T, a *recordingApplier, sink StateSink, resync time.Duration) *Reconciler {
	t.Helper()
	r := New(Config{
		Applier: a,
		Plugins: func() []Plugin {
			return []Plugin{{Name: "lab", Kind: sdk.KindPlatform}, {Name: "sync", Kind: sdk.KindStatesync}}
		},
		Self:     Identity{SerialNumber: "UNIT-A"},
		State:    sink,
		Resync:   resync,
		RetryMin: 20 * time.Millisecond,
		RetryMax: 80 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// waitCount waits until plugin has been given at least n intents.
func waitCount(t *testing.T, a *recordingApplier, plugin string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for a.count(plugin) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s got %d intents, want %d", plugin, a.count(plugin), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestNewRevisionIsAppliedToEveryPlugin(t *testing.T) {
	a := newRecordingApplier()
	sink := &mapSink{m: map[string]any{}}
	r := start(t, a, sink, time.Hour)
	r.SetRole(fsm.RoleStandalone)
	if err := r.SetConfig(pairConfig(t), 7); err != nil {
		t.Fatal(err)
	}
	waitCount(t, a, "lab", 1)
	waitCount(t, a, "sync", 1)
	a.mu.Lock()
	lab := a.intents["lab"][len(a.intents["lab"])-1]
	syncIntent := a.intents["sync"][len(a.intents["sync"])-1]
	a.mu.Unlock()
	if lab.GetRevision() != 7 || lab.GetRole() != "standalone" || lab.GetPlatform() == nil || len(lab.GetConfigJson()) == 0 {
		t.Errorf("platform intent = rev %d role %q platform %v", lab.GetRevision(), lab.GetRole(), lab.GetPlatform())
	}
	if syncIntent.GetPlatform() != nil {
		t.Errorf("a statesync plugin got a platform spec")
	}
	deadline := time.Now().Add(2 * time.Second)
	for sink.get("/system/plugins/plugin[name=lab]/state/applied-revision") != uint64(7) {
		if time.Now().After(deadline) {
			t.Fatalf("applied-revision not published: %v", sink.m)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRoleChangeReappliesAndSameRoleDoesNot(t *testing.T) {
	a := newRecordingApplier()
	r := start(t, a, nil, time.Hour)
	if err := r.SetConfig(pairConfig(t), 1); err != nil {
		t.Fatal(err)
	}
	waitCount(t, a, "lab", 1)
	r.SetRole(fsm.RoleActive)
	waitCount(t, a, "lab", 2)
	n := a.count("lab")
	r.SetRole(fsm.RoleActive)
	time.Sleep(50 * time.Millisecond)
	if got := a.count("lab"); got != n {
		t.Errorf("setting the same role again applied %d more times", got-n)
	}
}

// At a role change the platform driver, which moves the addresses, is
// given its intent before any other plugin, whatever the names.
// SPEC: TKO-1
func TestPlatformIsReconciledFirst(t *testing.T) {
	a := newRecordingApplier()
	r := New(Config{
		Applier: a,
		Plugins: func() []Plugin {
			return []Plugin{{Name: "aa-sync", Kind: sdk.KindStatesync}, {Name: "zz-lab", Kind: sdk.KindPlatform}}
		},
		Self: Identity{SerialNumber: "UNIT-A"},
	})
	// Queue before Run, so that both wait together.
	if err := r.SetConfig(pairConfig(t), 1); err != nil {
		t.Fatal(err)
	}
	r.SetRole(fsm.RoleActive)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitCount(t, a, "aa-sync", 1)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.order) < 2 || a.order[0] != "zz-lab" || a.order[1] != "aa-sync" {
		t.Errorf("applied in the order %v, want the platform zz-lab first", a.order)
	}
}

func TestFailedApplyIsRetriedWithBackoffAndRecorded(t *testing.T) {
	a := newRecordingApplier()
	a.setFail(errors.New("netdev x9 missing"))
	r := start(t, a, nil, time.Hour)
	if err := r.SetConfig(model.Default(), 3); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Conditions()["lab"].Failures < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("not retried: %+v", r.Conditions()["lab"])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c := r.Conditions()["lab"]; c.LastError != "netdev x9 missing" || c.AppliedRevision != 0 {
		t.Errorf("condition after failures = %+v", c)
	}
	a.setFail(nil)
	for r.Conditions()["lab"].AppliedRevision != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("never recovered: %+v", r.Conditions()["lab"])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c := r.Conditions()["lab"]; c.LastError != "" || c.Failures != 0 {
		t.Errorf("condition after recovery = %+v", c)
	}
}

func TestPeriodicResyncReappliesWithoutChange(t *testing.T) {
	a := newRecordingApplier()
	r := start(t, a, nil, 30*time.Millisecond)
	if err := r.SetConfig(model.Default(), 1); err != nil {
		t.Fatal(err)
	}
	waitCount(t, a, "lab", 3)
}

func TestPluginRestartGetsItsIntentAgain(t *testing.T) {
	a := newRecordingApplier()
	r := start(t, a, nil, time.Hour)
	if err := r.SetConfig(model.Default(), 1); err != nil {
		t.Fatal(err)
	}
	waitCount(t, a, "lab", 1)
	waitCount(t, a, "sync", 1)
	time.Sleep(20 * time.Millisecond)
	before, labBefore := a.count("sync"), a.count("lab")
	r.Enqueue("lab")
	waitCount(t, a, "lab", labBefore+1)
	time.Sleep(20 * time.Millisecond)
	if a.count("sync") != before {
		t.Errorf("restart of lab re-applied sync too")
	}
}

// A new /system/config/reconcile-interval re-arms the resync timer at
// once: a unit started with the 30 s default resyncs every second as soon
// as a revision sets 1 s.
func TestResyncIntervalFromConfigTakesEffectAtOnce(t *testing.T) {
	a := newRecordingApplier()
	r := New(Config{
		Applier: a,
		Plugins: func() []Plugin { return []Plugin{{Name: "lab", Kind: sdk.KindPlatform}} },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := r.SetConfig(model.Default(), 1); err != nil {
		t.Fatal(err)
	}
	waitCount(t, a, "lab", 1)
	fast := model.Default()
	if err := model.Set(fast, "/system/config/reconcile-interval", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := r.SetConfig(fast, 2); err != nil {
		t.Fatal(err)
	}
	waitCount(t, a, "lab", 2)
	n := a.count("lab")
	waitCount(t, a, "lab", n+2) // two resyncs, well before 30 s
}
