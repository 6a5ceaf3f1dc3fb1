package store

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

func ptr[T any](v T) *T { return &v }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// dbPath is a fresh database file in the test's temporary directory.
func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "tandem.db") }

// open opens path and closes the store at the end of the test.
func open(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// setHB returns an edit function that sets the heartbeat interval.
func setHB(v uint32) func(*tandem.Device) error {
	return func(d *tandem.Device) error {
		d.GetOrCreateHa().GetOrCreateConfig().HeartbeatInterval = ptr(v)
		return nil
	}
}

// hb reads the heartbeat interval (0 when unset).
func hb(d *tandem.Device) uint32 {
	if d == nil || d.Ha == nil || d.Ha.Config == nil || d.Ha.Config.HeartbeatInterval == nil {
		return 0
	}
	return *d.Ha.Config.HeartbeatInterval
}

// ruleError is a validator error type that callers find with errors.As.
type ruleError struct{ Path string }

func (e *ruleError) Error() string { return e.Path + ": forbidden value" }

// testValidator refuses a heartbeat interval equal to forbid (when set)
// and warns about intervals above 1000 ms.
type testValidator struct{ forbid atomic.Uint32 }

func (v *testValidator) validate(d *tandem.Device) ([]string, error) {
	if errs := model.Validate(d); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	h := hb(d)
	if f := v.forbid.Load(); f != 0 && h == f {
		return nil, &ruleError{Path: "/ha/config/heartbeat-interval"}
	}
	if h > 1000 {
		return []string{"heartbeat-interval above 1000 ms delays failure detection"}, nil
	}
	return nil, nil
}

// commitHB edits the candidate to heartbeat v and commits it.
func commitHB(t testing.TB, s *Store, session string, v uint32, meta Meta) RevisionInfo {
	t.Helper()
	if err := s.EditCandidate(session, setHB(v)); err != nil {
		t.Fatalf("EditCandidate: %v", err)
	}
	info, err := s.Commit(t.Context(), session, meta, CommitOptions{})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return info
}

// runningHB is the running heartbeat interval.
func runningHB(s *Store) uint32 {
	d, _ := s.Running()
	return hb(d)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ids(h []RevisionInfo) []uint64 {
	out := make([]uint64, len(h))
	for i, r := range h {
		out[i] = r.ID
	}
	return out
}

// sameConfig compares canonical forms: model.Equal alone tells a list
// entry with its key mirrored under config from one without.
func sameConfig(a, b *tandem.Device) bool {
	ca, errA := canonical(a)
	cb, errB := canonical(b)
	return errA == nil && errB == nil && string(ca.json) == string(cb.json)
}
