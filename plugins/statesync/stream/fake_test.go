package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// memChannel is an in-memory channel: a Source on the active, a Sink on the standby. Values
// end with "#<version>", and the sink checks that a key's version never goes back (the
// stream applies records of a key in order).
type memChannel struct {
	name string

	mu        sync.Mutex
	entries   map[string][]byte
	emit      func(channel.Record)
	lost      func(string)
	watching  chan struct{}
	regressed []string
	applied   int
	replaces  int
	failKeys  map[string]bool
	snapErr   error
	version   map[string]int
}

func newMem(name string) *memChannel {
	return &memChannel{name: name, entries: map[string][]byte{}, version: map[string]int{}, watching: make(chan struct{})}
}

func (m *memChannel) Name() string { return m.name }

func (m *memChannel) Snapshot(ctx context.Context) ([]channel.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snapErr != nil {
		err := m.snapErr
		m.snapErr = nil
		return nil, err
	}
	out := make([]channel.Record, 0, len(m.entries))
	for _, k := range slices.Sorted(maps.Keys(m.entries)) {
		out = append(out, channel.Record{Op: channel.Upsert, Key: []byte(k), Value: m.entries[k]})
	}
	return out, nil
}

func (m *memChannel) Watch(ctx context.Context, emit func(channel.Record), lost func(string)) error {
	m.mu.Lock()
	m.emit, m.lost = emit, lost
	select {
	case <-m.watching:
	default:
		close(m.watching)
	}
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	m.emit, m.lost = nil, nil
	m.watching = make(chan struct{})
	m.mu.Unlock()
	return ctx.Err()
}

// watched returns a channel closed once a Watch runs.
func (m *memChannel) watched() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.watching
}

// set changes an entry on the active: the next version of key, value padded to size.
func (m *memChannel) set(key string, size int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.version[key]++
	v := fmt.Sprintf("%s#%d", strings.Repeat("v", max(0, size-12)), m.version[key])
	m.entries[key] = []byte(v)
	if m.emit != nil {
		m.emit(channel.Record{Op: channel.Upsert, Key: []byte(key), Value: []byte(v)})
	}
}

func (m *memChannel) del(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	if m.emit != nil {
		m.emit(channel.Record{Op: channel.Delete, Key: []byte(key)})
	}
}

func (m *memChannel) reportLost(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lost(reason)
}

func versionOf(v []byte) int {
	i := strings.LastIndexByte(string(v), '#')
	n, _ := strconv.Atoi(string(v[i+1:]))
	return n
}

func (m *memChannel) Apply(ctx context.Context, recs []channel.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, r := range recs {
		k := string(r.Key)
		if m.failKeys[k] {
			errs = append(errs, fmt.Errorf("key %s refused", k))
			continue
		}
		m.applied++
		if r.Op == channel.Delete {
			delete(m.entries, k)
			continue
		}
		if old, ok := m.entries[k]; ok && versionOf(r.Value) < versionOf(old) {
			m.regressed = append(m.regressed, fmt.Sprintf("%s: %d after %d", k, versionOf(r.Value), versionOf(old)))
		}
		m.entries[k] = r.Value
		m.version[k] = max(m.version[k], versionOf(r.Value)) // a later set on this unit continues
	}
	return errors.Join(errs...)
}

func (m *memChannel) Replace(ctx context.Context, snapshot []channel.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replaces++
	next := map[string][]byte{}
	for _, r := range snapshot {
		next[string(r.Key)] = r.Value
		m.version[string(r.Key)] = max(m.version[string(r.Key)], versionOf(r.Value))
	}
	m.entries = next
	return nil
}

func (m *memChannel) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// snapshotMap copies the entries.
func (m *memChannel) snapshotMap() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.entries))
	for k, v := range m.entries {
		out[k] = string(v)
	}
	return out
}

// diff describes how m and o differ ("" when equal).
func (m *memChannel) diff(o *memChannel) string {
	a, b := m.snapshotMap(), o.snapshotMap()
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			d = append(d, "missing "+k)
		} else if v != w {
			d = append(d, fmt.Sprintf("%s: v%d != v%d", k, versionOf([]byte(v)), versionOf([]byte(w))))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "extra "+k)
		}
	}
	if len(d) == 0 {
		return ""
	}
	slices.Sort(d)
	return fmt.Sprintf("%d differences, first: %s", len(d), strings.Join(d[:min(5, len(d))], ", "))
}

func (m *memChannel) regressions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.regressed...)
}

func (m *memChannel) replaceCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.replaces
}
