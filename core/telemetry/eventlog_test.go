package telemetry

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func openLog(t *testing.T, path string, size int, tr *Tree) *EventLog {
	t.Helper()
	l, err := OpenEventLog(path, size, tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func appendN(t *testing.T, l *EventLog, n int) []Event {
	t.Helper()
	var out []Event
	for i := range n {
		e, err := l.Append(Event{Type: "role-change", Severity: SeverityWarning, Message: "m" + string(rune('a'+i%26)), Attrs: map[string]string{"i": string(rune('a' + i%26))}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func seqs(es []Event) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// treeSeqs lists the event sequence numbers mirrored in the state tree.
func treeSeqs(tr *Tree) map[uint64]bool {
	out := map[uint64]bool{}
	for _, l := range tr.Get("/system/events") {
		if strings.HasSuffix(l.Path, "/state/sequence") {
			out[l.Value.(uint64)] = true
		}
	}
	return out
}

func TestEventLogBoundAndReopen(t *testing.T) {
	for _, c := range []struct {
		name          string
		size, first   int
		reopenSize    int
		second        int
		wantList      []uint64
		wantAfterOpen []uint64
	}{
		{"under bound", 10, 3, 10, 2, []uint64{1, 2, 3}, []uint64{1, 2, 3, 4, 5}},
		{"over bound", 3, 5, 3, 1, []uint64{3, 4, 5}, []uint64{4, 5, 6}},
		{"bound shrinks on reopen", 5, 5, 2, 1, []uint64{1, 2, 3, 4, 5}, []uint64{5, 6}},
		{"bound of one", 1, 4, 1, 2, []uint64{4}, []uint64{6}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.db")
			tr := NewTree("unit-a")
			l, err := OpenEventLog(path, c.size, tr)
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now().UTC()
			appended := appendN(t, l, c.first)
			if got := seqs(l.List(0, 0)); !reflect.DeepEqual(got, c.wantList) {
				t.Errorf("List = %v, want %v", got, c.wantList)
			}
			if got := treeSeqs(tr); len(got) != len(c.wantList) || !got[c.wantList[0]] || !got[c.wantList[len(c.wantList)-1]] {
				t.Errorf("tree holds events %v, want %v", got, c.wantList)
			}
			for _, e := range appended {
				if e.Time.Before(before) || e.Time.Location() != time.UTC || e.Severity != SeverityWarning {
					t.Errorf("appended %+v", e)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Append(Event{Type: "x"}); !errors.Is(err, ErrClosed) {
				t.Errorf("Append after Close: %v", err)
			}

			// Reopen with a fresh tree, as after a daemon restart.
			tr2 := NewTree("unit-a")
			l2 := openLog(t, path, c.reopenSize, tr2)
			kept := l2.List(0, 0)
			last := appended[len(appended)-1]
			if got := kept[len(kept)-1]; !reflect.DeepEqual(got, last) {
				t.Errorf("after reopen newest = %+v, want %+v", got, last)
			}
			appendN(t, l2, c.second)
			got := l2.List(0, 0)
			if !reflect.DeepEqual(seqs(got), c.wantAfterOpen) {
				t.Errorf("after reopen List = %v, want %v", seqs(got), c.wantAfterOpen)
			}
			ts := treeSeqs(tr2)
			if len(ts) != len(c.wantAfterOpen) {
				t.Errorf("tree after reopen holds %v, want %v", ts, c.wantAfterOpen)
			}
			for _, s := range c.wantAfterOpen {
				if !ts[s] {
					t.Errorf("tree after reopen lacks event %d: %v", s, ts)
				}
			}
		})
	}
}

func TestEventLogList(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "events.db"), 100, nil)
	appendN(t, l, 10)
	for _, c := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 0, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{0, 3, []uint64{1, 2, 3}},
		{7, 0, []uint64{8, 9, 10}},
		{7, 2, []uint64{8, 9}},
		{10, 0, nil},
		{^uint64(0), 0, nil},
	} {
		if got := seqs(l.List(c.after, c.limit)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("List(%d, %d) = %v, want %v", c.after, c.limit, got, c.want)
		}
	}
}

func TestEventLogRefuses(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "events.db"), 10, NewTree("u"))
	for _, c := range []struct {
		name string
		e    Event
		want string
	}{
		{"no type", Event{Message: "x"}, "no type"},
		{"bad severity", Event{Type: "commit", Severity: "fatal"}, "severity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := l.Append(c.e); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Append(%+v) = %v, want error with %q", c.e, err, c.want)
			}
		})
	}
	if n := len(l.List(0, 0)); n != 0 {
		t.Errorf("refused events stored: %d", n)
	}
	if _, err := OpenEventLog(filepath.Join(t.TempDir(), "x.db"), 0, nil); err == nil {
		t.Error("size 0 accepted")
	}
	e, err := l.Append(Event{Type: "commit", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))})
	if err != nil || e.Severity != SeverityInfo || !e.Time.Equal(time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)) {
		t.Errorf("defaults: %+v, %v", e, err)
	}
}

func TestEventLogTreeShape(t *testing.T) {
	tr := NewTree("unit-a")
	l := openLog(t, filepath.Join(t.TempDir(), "events.db"), 2, tr)
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, e := range []Event{
		{Type: "peer-lost", Severity: SeverityError, Message: "heartbeat lost", Time: at},
		{Type: "role-change", Severity: SeverityWarning, Message: "standby -> active", Time: at.Add(time.Second), Attrs: map[string]string{"from": "standby"}},
		{Type: "peer-joined", Message: "peer back", Time: at.Add(2 * time.Second)},
	} {
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	got := values(tr.Get("/system/events/event[sequence=2]"))
	want := map[string]any{
		"/system/events/event[sequence=2]/sequence":       uint64(2),
		"/system/events/event[sequence=2]/state/sequence": uint64(2),
		"/system/events/event[sequence=2]/state/time":     "2026-11-21T12:00:01Z",
		"/system/events/event[sequence=2]/state/type":     "role-change",
		"/system/events/event[sequence=2]/state/severity": "warning",
		"/system/events/event[sequence=2]/state/message":  "standby -> active",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tree event 2 = %v, want %v", got, want)
	}
	if n := len(tr.Get("/system/events/event[sequence=1]")); n != 0 {
		t.Errorf("evicted event 1 still has %d leaves in the tree", n)
	}
	b, err := tr.JSON("/system/events")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		System struct {
			Events struct {
				Event []struct {
					Sequence json.Number       `json:"sequence"`
					State    map[string]string `json:"state"`
				} `json:"event"`
			} `json:"events"`
		} `json:"tandem-system:system"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if ev := doc.System.Events.Event; len(ev) != 2 || ev[0].Sequence != "2" || ev[1].State["type"] != "peer-joined" || ev[1].State["severity"] != "info" || ev[1].State["sequence"] != "3" {
		t.Errorf("events JSON:\n%s", b)
	}
}

func TestEventLogSubscribe(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "events.db"), 1000, NewTree("unit-a"))
	live, cancelLive := l.Subscribe()
	defer cancelLive()
	stuck, cancelStuck := l.Subscribe() // never read until the end
	gone, cancelGone := l.Subscribe()
	cancelGone()
	cancelGone() // idempotent
	if _, ok := <-gone; ok {
		t.Error("cancelled subscription still open")
	}

	const n = SubscriberBuffer + 50
	done := make(chan []Event)
	go func() {
		var got []Event
		for e := range live {
			got = append(got, e)
			if len(got) == n {
				break
			}
		}
		done <- got
	}()
	appended := make(chan error)
	go func() {
		for range n {
			if _, err := l.Append(Event{Type: "quality-change", Attrs: map[string]string{"q": "90"}}); err != nil {
				appended <- err
				return
			}
		}
		appended <- nil
	}()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Append blocked on a stuck subscriber")
	}
	got := <-done
	if len(got) != n || got[0].Seq != 1 || got[n-1].Seq != n || got[3].Attrs["q"] != "90" {
		t.Errorf("live subscriber got %d events, first %+v", len(got), got[0])
	}

	// The stuck subscriber holds the first SubscriberBuffer events and
	// was then dropped: its channel is closed.
	var stuckGot []uint64
	for e := range stuck {
		stuckGot = append(stuckGot, e.Seq)
	}
	if len(stuckGot) != SubscriberBuffer || stuckGot[0] != 1 || stuckGot[len(stuckGot)-1] != SubscriberBuffer {
		t.Errorf("stuck subscriber got %d events (%v...)", len(stuckGot), stuckGot[:min(3, len(stuckGot))])
	}
	cancelStuck() // after the drop: no panic
	// It catches up from the log.
	if rest := l.List(stuckGot[len(stuckGot)-1], 0); len(rest) != n-SubscriberBuffer {
		t.Errorf("catch-up List has %d events, want %d", len(rest), n-SubscriberBuffer)
	}

	// Close ends live subscriptions.
	again, _ := l.Subscribe()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-again; ok {
		t.Error("subscription open after Close")
	}
	after, _ := l.Subscribe()
	if _, ok := <-after; ok {
		t.Error("Subscribe after Close returned an open channel")
	}
}
