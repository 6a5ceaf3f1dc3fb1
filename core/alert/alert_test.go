package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/telemetry"
)

// received is one request the test webhook got.
type received struct {
	method, contentType, userAgent string
	body                           payload
	raw                            map[string]any
}

// hook is a test webhook that records every request and answers with
// status(n), n counting requests from 1.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []received
	status func(n int) int
}

func newHook(t *testing.T, status func(n int) int) *hook {
	t.Helper()
	h := &hook{status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		rec := received{method: r.Method, contentType: r.Header.Get("Content-Type"), userAgent: r.UserAgent()}
		if err := json.Unmarshal(data, &rec.body); err != nil {
			t.Errorf("webhook body %q: %v", data, err)
		}
		_ = json.Unmarshal(data, &rec.raw)
		h.mu.Lock()
		h.reqs = append(h.reqs, rec)
		n := len(h.reqs)
		h.mu.Unlock()
		code := http.StatusNoContent
		if h.status != nil {
			code = h.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) requests() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.reqs...)
}

// okSeqs returns the sequence numbers of the requests answered with 2xx.
func (h *hook) okSeqs() []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []uint64
	for i, r := range h.reqs {
		if h.status == nil || h.status(i+1) < 300 {
			out = append(out, r.body.Seq)
		}
	}
	return out
}

func openLog(t *testing.T) *telemetry.EventLog {
	t.Helper()
	l, err := telemetry.OpenEventLog(filepath.Join(t.TempDir(), "events.db"), 10000, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// fast is a Config with short backoffs for tests.
func fast(l *telemetry.EventLog) Config {
	return Config{
		Unit:       "unit-a",
		Version:    "1.2.3",
		Events:     l,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 40 * time.Millisecond,
	}
}

// start runs n until the test ends.
func start(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

func appendEv(t *testing.T, l *telemetry.EventLog, e telemetry.Event) telemetry.Event {
	t.Helper()
	e, err := l.Append(e)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func equalSeqs(a, b []uint64) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// SPEC: OBS-3
// TestWebhookGetsRoleChangeNotCommit checks that a role-change event
// reaches the webhook as the documented JSON document with the right
// headers, and that a commit event, which is no HA status change, does not.
func TestWebhookGetsRoleChangeNotCommit(t *testing.T) {
	l := openLog(t)
	h := newHook(t, nil)
	n := New(fast(l))
	if err := n.SetWebhook(h.srv.URL + "/alerts"); err != nil {
		t.Fatal(err)
	}
	start(t, n)

	appendEv(t, l, telemetry.Event{Type: "commit", Message: "commit 7"})
	rc := appendEv(t, l, telemetry.Event{
		Type: "role-change", Severity: telemetry.SeverityWarning,
		Message: "became active", Attrs: map[string]string{"old": "standby", "new": "active"},
	})
	eventually(t, "delivery", func() bool { return n.Stats().Delivered == 1 })

	reqs := h.requests()
	if len(reqs) != 1 {
		t.Fatalf("webhook got %d requests, want 1 (the role-change): %+v", len(reqs), reqs)
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.contentType != "application/json" || r.userAgent != "tandem/1.2.3" {
		t.Errorf("request %s, Content-Type %q, User-Agent %q", r.method, r.contentType, r.userAgent)
	}
	want := payload{Unit: "unit-a", Seq: rc.Seq, Time: rc.Time, Type: "role-change", Severity: "warning",
		Message: "became active", Attrs: map[string]string{"old": "standby", "new": "active"}}
	got := r.body
	if got.Unit != want.Unit || got.Seq != want.Seq || !got.Time.Equal(want.Time) || got.Type != want.Type ||
		got.Severity != want.Severity || got.Message != want.Message || fmt.Sprint(got.Attrs) != fmt.Sprint(want.Attrs) {
		t.Errorf("alert %+v, want %+v", got, want)
	}
	for _, k := range []string{"unit", "seq", "time", "type", "severity", "message", "attrs"} {
		if _, ok := r.raw[k]; !ok {
			t.Errorf("alert JSON lacks %q: %v", k, r.raw)
		}
	}
	if s := n.Stats(); s.Pending != 0 || s.Failed != 0 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

// SPEC: OBS-3
// TestWebhookRetriesInOrder checks that a webhook that fails twice with
// 500 and then succeeds gets the first alert exactly once, after the
// retries, and the second alert only after it.
func TestWebhookRetriesInOrder(t *testing.T) {
	l := openLog(t)
	h := newHook(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	n := New(fast(l))
	if err := n.SetWebhook(h.srv.URL); err != nil {
		t.Fatal(err)
	}
	start(t, n)

	a := appendEv(t, l, telemetry.Event{Type: "peer-lost", Severity: telemetry.SeverityError, Message: "peer lost"})
	b := appendEv(t, l, telemetry.Event{Type: "role-change", Message: "became active"})
	eventually(t, "two deliveries", func() bool { return n.Stats().Delivered == 2 })

	var all []uint64
	for _, r := range h.requests() {
		all = append(all, r.body.Seq)
	}
	if want := []uint64{a.Seq, a.Seq, a.Seq, b.Seq}; !equalSeqs(all, want) {
		t.Errorf("webhook requests for seqs %v, want %v", all, want)
	}
	if got := h.okSeqs(); !equalSeqs(got, []uint64{a.Seq, b.Seq}) {
		t.Errorf("accepted alerts %v, want %v", got, []uint64{a.Seq, b.Seq})
	}
	s := n.Stats()
	if s.Failed != 0 || s.Dropped != 0 || s.Pending != 0 || !strings.Contains(s.LastError, "500") {
		t.Errorf("stats %+v", s)
	}
}

// TestWebhookGivesUp checks that an alert is failed after MaxAttempts
// attempts, that a 4xx answer is not retried, and that the next alerts
// still go out.
func TestWebhookGivesUp(t *testing.T) {
	l := openLog(t)
	h := newHook(t, func(n int) int {
		switch {
		case n <= 3:
			return http.StatusBadGateway
		case n == 4:
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	cfg := fast(l)
	cfg.MaxAttempts = 3
	n := New(cfg)
	if err := n.SetWebhook(h.srv.URL); err != nil {
		t.Fatal(err)
	}
	start(t, n)

	a := appendEv(t, l, telemetry.Event{Type: "dual-active"})
	b := appendEv(t, l, telemetry.Event{Type: "plugin-failed"})
	c := appendEv(t, l, telemetry.Event{Type: "peer-joined"})
	eventually(t, "outcomes", func() bool { s := n.Stats(); return s.Failed == 2 && s.Delivered == 1 })
	var all []uint64
	for _, r := range h.requests() {
		all = append(all, r.body.Seq)
	}
	if want := []uint64{a.Seq, a.Seq, a.Seq, b.Seq, c.Seq}; !equalSeqs(all, want) {
		t.Errorf("webhook requests for seqs %v, want %v", all, want)
	}
}

// SPEC: OBS-3
// TestWebhookURLChange checks that a new URL gets the later alerts and
// the old one no more.
func TestWebhookURLChange(t *testing.T) {
	l := openLog(t)
	h1, h2 := newHook(t, nil), newHook(t, nil)
	n := New(fast(l))
	if err := n.SetWebhook(h1.srv.URL); err != nil {
		t.Fatal(err)
	}
	start(t, n)

	a := appendEv(t, l, telemetry.Event{Type: "role-change"})
	eventually(t, "first delivery", func() bool { return n.Stats().Delivered == 1 })
	if err := n.SetWebhook(h2.srv.URL); err != nil {
		t.Fatal(err)
	}
	b := appendEv(t, l, telemetry.Event{Type: "peer-lost"})
	eventually(t, "second delivery", func() bool { return n.Stats().Delivered == 2 })
	if got := h1.okSeqs(); !equalSeqs(got, []uint64{a.Seq}) {
		t.Errorf("old webhook got %v, want [%d]", got, a.Seq)
	}
	if got := h2.okSeqs(); !equalSeqs(got, []uint64{b.Seq}) {
		t.Errorf("new webhook got %v, want [%d]", got, b.Seq)
	}
	if err := n.SetWebhook("ftp://example.com/x"); err == nil {
		t.Error("SetWebhook accepted an ftp URL")
	}
}

// SPEC: OBS-3
// TestWebhookEmptyURLSendsNothing checks that no alert is sent (or kept
// for later) while the webhook URL is empty.
func TestWebhookEmptyURLSendsNothing(t *testing.T) {
	l := openLog(t)
	h := newHook(t, nil)
	n := New(fast(l))
	var seen atomic.Uint64
	n.hookFollow = func(e telemetry.Event) { seen.Store(e.Seq) }
	start(t, n)
	// passed waits until the notifier has decided about every event so far.
	passed := func() {
		m := appendEv(t, l, telemetry.Event{Type: "commit", Message: "marker"})
		eventually(t, "the notifier to pass the marker", func() bool { return seen.Load() >= m.Seq })
	}

	appendEv(t, l, telemetry.Event{Type: "role-change", Message: "never configured"})
	passed()
	if err := n.SetWebhook(h.srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := n.SetWebhook(""); err != nil {
		t.Fatal(err)
	}
	appendEv(t, l, telemetry.Event{Type: "peer-lost", Message: "cleared"})
	passed()
	if err := n.SetWebhook(h.srv.URL); err != nil {
		t.Fatal(err)
	}
	c := appendEv(t, l, telemetry.Event{Type: "peer-joined", Message: "set again"})
	eventually(t, "delivery", func() bool { return n.Stats().Delivered == 1 })
	if got := h.okSeqs(); !equalSeqs(got, []uint64{c.Seq}) {
		t.Errorf("webhook got seqs %v, want only [%d]: alerts were sent while the URL was empty", got, c.Seq)
	}
	if s := n.Stats(); s.Dropped != 0 || s.Pending != 0 {
		t.Errorf("stats %+v: alerts without a URL must not be queued", s)
	}
}

// SPEC: OBS-3
// TestAppendNeverBlocksOnHungWebhook checks that the event log's Append
// stays fast while the webhook hangs, and that alerts beyond the queue are
// dropped and counted.
func TestAppendNeverBlocksOnHungWebhook(t *testing.T) {
	l := openLog(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	cfg := fast(l)
	cfg.QueueSize = 4
	n := New(cfg)
	if err := n.SetWebhook(srv.URL); err != nil {
		t.Fatal(err)
	}
	start(t, n)

	const count = 2 * telemetry.SubscriberBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range count {
			if _, err := l.Append(telemetry.Event{Type: "role-change", Message: fmt.Sprint(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Append blocked behind a hung webhook")
	}
	eventually(t, "all alerts accounted for", func() bool {
		s := n.Stats()
		return s.Dropped+s.Pending == count && s.Dropped > 0
	})
	if s := n.Stats(); s.Pending > uint64(cfg.QueueSize)+1 || s.Delivered != 0 {
		t.Errorf("stats %+v: want at most %d pending, none delivered", s, cfg.QueueSize+1)
	}
}

// SPEC: OBS-3
// TestCatchUpAfterDrop stalls the notifier while more than
// SubscriberBuffer events are appended, so the event log drops its
// subscription, and checks that every alert is then delivered exactly
// once and in order.
func TestCatchUpAfterDrop(t *testing.T) {
	l := openLog(t)
	h := newHook(t, nil)
	cfg := fast(l)
	cfg.QueueSize = 2000
	n := New(cfg)
	stalled, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	n.hookFollow = func(telemetry.Event) {
		once.Do(func() {
			close(stalled)
			<-release
		})
	}
	if err := n.SetWebhook(h.srv.URL); err != nil {
		t.Fatal(err)
	}
	start(t, n)

	const count = 3 * telemetry.SubscriberBuffer
	types := []string{"role-change", "commit", "peer-lost", "link-down", "quality-change", "dual-active"}
	var want []uint64
	for i := range count {
		e := appendEv(t, l, telemetry.Event{Type: types[i%len(types)], Message: fmt.Sprint(i)})
		if n.IsAlert(e.Type) {
			want = append(want, e.Seq)
		}
		if i == 0 {
			<-stalled
		}
	}
	close(release)
	eventually(t, "every alert", func() bool { return n.Stats().Delivered >= uint64(len(want)) })
	// Give a duplicate the chance to show up.
	appendEv(t, l, telemetry.Event{Type: "commit"})
	last := appendEv(t, l, telemetry.Event{Type: "peer-joined"})
	want = append(want, last.Seq)
	eventually(t, "the last alert", func() bool { return n.Stats().Delivered >= uint64(len(want)) })

	if got := h.okSeqs(); !equalSeqs(got, want) {
		t.Errorf("webhook got %d alerts, want %d exactly once in order\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	s := n.Stats()
	if s.CatchUps == 0 {
		t.Errorf("the subscription was never dropped (stats %+v); the test stalls too little", s)
	}
	if s.Dropped != 0 || s.Failed != 0 || s.Pending != 0 {
		t.Errorf("stats %+v", s)
	}
}

// SPEC: OBS-3
// TestNothingFromThePast checks that events in the log when the notifier
// is created (before a restart) raise no alert, while events appended
// between New and Run do.
func TestNothingFromThePast(t *testing.T) {
	l := openLog(t)
	h := newHook(t, nil)
	for range 3 {
		appendEv(t, l, telemetry.Event{Type: "role-change", Message: "before the restart"})
	}
	n := New(fast(l))
	if err := n.SetWebhook(h.srv.URL); err != nil {
		t.Fatal(err)
	}
	a := appendEv(t, l, telemetry.Event{Type: "peer-joined"})
	start(t, n)
	b := appendEv(t, l, telemetry.Event{Type: "role-change"})
	eventually(t, "deliveries", func() bool { return n.Stats().Delivered == 2 })
	if got := h.okSeqs(); !equalSeqs(got, []uint64{a.Seq, b.Seq}) {
		t.Errorf("webhook got %v, want %v", got, []uint64{a.Seq, b.Seq})
	}
}

// TestSyslog checks that alerts go to the syslog socket with the priority
// of their severity, and that a missing socket is harmless.
func TestSyslog(t *testing.T) {
	dir, err := os.MkdirTemp("", "alert") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "log")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Skipf("no unixgram sockets: %v", err)
	}
	t.Cleanup(func() { _ = pc.Close() })

	orig := syslogDial
	t.Cleanup(func() { syslogDial = orig })
	syslogDial = func() (*syslog.Writer, error) {
		return syslog.Dial("unixgram", sock, syslog.LOG_DAEMON|syslog.LOG_INFO, "tandem")
	}

	l := openLog(t)
	cfg := fast(l)
	cfg.Syslog = true
	n := New(cfg)
	start(t, n)
	appendEv(t, l, telemetry.Event{Type: "commit"})
	appendEv(t, l, telemetry.Event{Type: "peer-lost", Severity: telemetry.SeverityError, Message: "peer gone",
		Attrs: map[string]string{"peer": "unit-b"}})

	buf := make([]byte, 4096)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	k, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:k])
	wantPri := fmt.Sprintf("<%d>", syslog.LOG_DAEMON|syslog.LOG_ERR)
	if !strings.HasPrefix(msg, wantPri) || !strings.Contains(msg, "type=peer-lost") ||
		!strings.Contains(msg, "peer gone") || !strings.Contains(msg, `peer="unit-b"`) {
		t.Errorf("syslog got %q, want priority %s and the peer-lost alert", msg, wantPri)
	}
	eventually(t, "syslog count", func() bool { return n.Stats().SyslogSent == 1 })

	// Without a socket the webhook still works.
	syslogDial = func() (*syslog.Writer, error) { return nil, errors.New("no syslog") }
	l2 := openLog(t)
	h := newHook(t, nil)
	cfg2 := fast(l2)
	cfg2.Syslog = true
	n2 := New(cfg2)
	if err := n2.SetWebhook(h.srv.URL); err != nil {
		t.Fatal(err)
	}
	start(t, n2)
	appendEv(t, l2, telemetry.Event{Type: "role-change"})
	appendEv(t, l2, telemetry.Event{Type: "role-change"})
	eventually(t, "webhook without syslog", func() bool { return n2.Stats().Delivered == 2 })
	if s := n2.Stats(); s.SyslogSent != 0 {
		t.Errorf("stats %+v", s)
	}
}
