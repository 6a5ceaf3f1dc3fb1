// Package pluginhosttest has helpers for tests that run real plugin
// processes under a pluginhost.Host: building plugin binaries and recording
// the host's events.
package pluginhosttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/pluginhost"
)

// Build compiles the Go main package pkg (an import path or a directory
// relative to the test's working directory) into dir/name and returns the
// path. The build uses the test's module and go command.
func Build(t testing.TB, pkg, dir, name string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(goCmd, "build", "-o", out, pkg)
	cmd.Env = os.Environ()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Recorder collects a Host's events.
type Recorder struct {
	mu     sync.Mutex
	events []pluginhost.Event
	notify chan struct{}
	done   chan struct{}
}

// Record reads h.Events() until it is closed (by h.Stop).
func Record(h *pluginhost.Host) *Recorder {
	r := &Recorder{notify: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range h.Events() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			close(r.notify)
			r.notify = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	return r
}

// Events returns the events recorded so far.
func (r *Recorder) Events() []pluginhost.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Len returns how many events were recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// WaitFor waits until an event at index >= from matches and returns it and
// its index; ok is false after timeout.
func (r *Recorder) WaitFor(from int, timeout time.Duration, match func(pluginhost.Event) bool) (ev pluginhost.Event, idx int, ok bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			if match(r.events[i]) {
				ev := r.events[i]
				r.mu.Unlock()
				return ev, i, true
			}
		}
		from = max(from, len(r.events))
		notify := r.notify
		r.mu.Unlock()
		select {
		case <-notify:
		case <-r.done:
			return pluginhost.Event{}, 0, false
		case <-deadline.C:
			return pluginhost.Event{}, 0, false
		}
	}
}

// WaitStatus polls h until the named plugin's status matches.
func WaitStatus(h *pluginhost.Host, name string, timeout time.Duration, match func(pluginhost.Status) bool) (pluginhost.Status, bool) {
	deadline := time.Now().Add(timeout)
	for {
		st, ok := h.Plugin(name)
		if ok && match(st) {
			return st, true
		}
		if time.Now().After(deadline) {
			return st, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
