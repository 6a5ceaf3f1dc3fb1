// Package alert delivers alerts on HA status changes (SPEC OBS-3): it
// follows the HA event log (core/telemetry) and sends every event whose
// type is in AlertTypes to the configured webhook
// (/system/config/alert-webhook) as an HTTP POST of a JSON document, and to
// the local syslog when a syslog socket exists.
//
// Delivery semantics:
//
//   - A Notifier alerts on the events appended after New returned; events
//     already in the log (from before a restart) are never sent.
//   - Every alert is seen exactly once and in sequence order, even when the
//     event log drops the Notifier's subscription for falling behind: the
//     Notifier catches up with EventLog.List from the last sequence number
//     it saw and subscribes again. Only events that the bounded log deleted
//     before they could be read are missed; that is logged.
//   - Webhook delivery is at least once, in order, one alert at a time:
//     an alert that fails (network error, timeout, 5xx, 408, 425, 429) is
//     retried with exponential backoff (Config.MinBackoff doubling up to
//     Config.MaxBackoff) until it succeeds, Config.MaxAttempts attempts
//     were made or it is older than Config.MaxAge, and only then does the
//     next alert go out. Any other 4xx answer is a permanent failure and is
//     not retried. Every attempt uses the URL current at that moment.
//   - The event log is never blocked: alerts wait in a queue of
//     Config.QueueSize; when it is full the new alert is dropped, counted
//     in Stats.Dropped and logged. Alerts still queued when Run returns are
//     dropped too (the queue is not persisted).
//   - Syslog gets each alert once, best effort, with a priority from the
//     event's severity (info, warning, error become LOG_INFO, LOG_WARNING,
//     LOG_ERR) under facility daemon and tag "tandem".
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-ha/tandem/core/telemetry"
)

// AlertTypes are the event types that are HA status changes and so raise
// an alert (OBS-3). Config.Types overrides it for one Notifier; New reads
// it, so changes affect only Notifiers created afterwards.
var AlertTypes = []string{
	"role-change",
	"peer-lost",
	"peer-joined",
	"dual-active",
	"fail-soft",
	"refuse-to-pair",
	"forced",
	"failover-refused",
	"takeover-aborted",
	"plugin-failed",
}

// Defaults for the zero fields of Config.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMinBackoff  = 1 * time.Second
	DefaultMaxBackoff  = 60 * time.Second
	DefaultMaxAttempts = 10
	DefaultMaxAge      = 15 * time.Minute
	DefaultQueueSize   = 1024
)

// Config configures a Notifier. Only Events is required.
type Config struct {
	// Unit is this unit's name, sent as "unit" in every alert.
	Unit string
	// Version is the daemon version, sent as User-Agent tandem/<Version>.
	Version string
	// Events is the HA event log to follow.
	Events *telemetry.EventLog
	// Logger receives the Notifier's own logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient posts to the webhook; nil uses a client with Timeout.
	HTTPClient *http.Client
	// Syslog enables sending alerts to the local syslog socket.
	Syslog bool

	// Types are the event types that raise an alert; nil means AlertTypes.
	Types []string
	// Timeout bounds one webhook attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// MinBackoff is the wait after the first failed attempt, doubled after
	// every further one up to MaxBackoff; 0 means DefaultMinBackoff.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between attempts; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// MaxAttempts is how many times one alert is tried; 0 means
	// DefaultMaxAttempts.
	MaxAttempts int
	// MaxAge is how long after it was queued an alert is still tried; 0
	// means DefaultMaxAge.
	MaxAge time.Duration
	// QueueSize is how many alerts may wait for the webhook; 0 means
	// DefaultQueueSize.
	QueueSize int
}

// Stats counts what a Notifier did with webhook alerts.
type Stats struct {
	// Delivered is how many alerts the webhook accepted (2xx).
	Delivered uint64
	// Failed is how many alerts were given up after their last attempt.
	Failed uint64
	// Dropped is how many alerts were never (fully) tried: the queue was
	// full, the webhook was disabled while they waited, or Run ended.
	Dropped uint64
	// Pending is how many alerts are queued or being sent.
	Pending uint64
	// CatchUps is how many times the event log dropped the subscription
	// and the Notifier caught up from the log.
	CatchUps uint64
	// SyslogSent is how many alerts were written to syslog.
	SyslogSent uint64
	// LastError is the latest webhook or syslog error, empty if none.
	LastError string
}

// job is one alert waiting for the webhook.
type job struct {
	ev     telemetry.Event
	queued time.Time
}

// payload is the JSON document posted to the webhook.
type payload struct {
	Unit     string            `json:"unit"`
	Seq      uint64            `json:"seq"`
	Time     time.Time         `json:"time"`
	Type     string            `json:"type"`
	Severity string            `json:"severity"`
	Message  string            `json:"message"`
	Attrs    map[string]string `json:"attrs"`
}

// Notifier follows the event log and delivers alerts. Create it with New,
// start it with Run; SetWebhook and Stats are safe to call at any time.
type Notifier struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	types  map[string]bool

	queue chan job
	slq   chan telemetry.Event
	wake  chan struct{} // the webhook URL changed

	mu      sync.Mutex
	url     string
	lastErr string
	running bool

	delivered, failed, dropped, pending, catchUps, syslogSent atomic.Uint64

	last uint64 // newest sequence number handled; owned by the follower

	// hookFollow, when set, is called by the follower before it handles
	// each event (tests stall the follower with it).
	hookFollow func(telemetry.Event)
}

// syslogDial opens the local syslog; a variable so tests can redirect it.
var syslogDial = func() (*syslog.Writer, error) {
	return syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "tandem")
}

// New returns a Notifier for cfg. It alerts on the events appended to
// cfg.Events after New returns. The webhook starts disabled; see
// SetWebhook.
func New(cfg Config) *Notifier {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Version == "" {
		cfg.Version = "unknown"
	}
	types := cfg.Types
	if types == nil {
		types = AlertTypes
	}
	n := &Notifier{
		cfg:    cfg,
		log:    cfg.Logger,
		client: cfg.HTTPClient,
		types:  map[string]bool{},
		queue:  make(chan job, cfg.QueueSize),
		slq:    make(chan telemetry.Event, cfg.QueueSize),
		wake:   make(chan struct{}, 1),
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("component", "alert")
	if n.client == nil {
		n.client = &http.Client{Timeout: cfg.Timeout}
	}
	for _, t := range types {
		n.types[t] = true
	}
	if cfg.Events != nil {
		// Begin after the newest existing event: nothing from the past.
		if evs := cfg.Events.List(0, 0); len(evs) > 0 {
			n.last = evs[len(evs)-1].Seq
		}
	}
	return n
}

// IsAlert reports whether events of type typ raise an alert.
func (n *Notifier) IsAlert(typ string) bool { return n.types[typ] }

// SetWebhook sets the URL alerts are posted to (the alert-webhook leaf of
// /system/config); "" disables the webhook, and alerts still queued are
// then dropped. It may be called at any time; an alert waiting to be
// retried is retried at once at the new URL. A URL that is not absolute
// http or https is refused and the webhook left as it was.
func (n *Notifier) SetWebhook(rawURL string) error {
	rawURL = strings.TrimSpace(rawURL)
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil {
			return fmt.Errorf("alert webhook: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("alert webhook %q: not an absolute http or https URL", rawURL)
		}
	}
	n.mu.Lock()
	changed := n.url != rawURL
	n.url = rawURL
	n.mu.Unlock()
	if changed {
		n.log.Info("alert webhook set", "url", redact(rawURL))
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Stats returns the Notifier's counters.
func (n *Notifier) Stats() Stats {
	n.mu.Lock()
	lastErr := n.lastErr
	n.mu.Unlock()
	return Stats{
		Delivered:  n.delivered.Load(),
		Failed:     n.failed.Load(),
		Dropped:    n.dropped.Load(),
		Pending:    n.pending.Load(),
		CatchUps:   n.catchUps.Load(),
		SyslogSent: n.syslogSent.Load(),
		LastError:  lastErr,
	}
}

// Run follows the event log and delivers alerts until ctx is done, then
// returns ctx's error. A Notifier runs once at a time.
func (n *Notifier) Run(ctx context.Context) error {
	if n.cfg.Events == nil {
		return errors.New("alert: Config.Events is nil")
	}
	n.mu.Lock()
	if n.running {
		n.mu.Unlock()
		return errors.New("alert: notifier is already running")
	}
	n.running = true
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.running = false
		n.mu.Unlock()
	}()

	var wg sync.WaitGroup
	wg.Go(func() { n.deliverLoop(ctx) })
	if n.cfg.Syslog {
		wg.Go(func() { n.syslogLoop(ctx) })
	}
	n.follow(ctx)
	wg.Wait()
	// Whatever is still queued will not be sent.
	for {
		select {
		case j := <-n.queue:
			n.drop(j.ev, "notifier stopped")
		default:
			return ctx.Err()
		}
	}
}

// follow reads the event log until ctx is done: subscribe, catch up with
// List from the last event seen, then read the subscription until the log
// drops it, and again.
func (n *Notifier) follow(ctx context.Context) {
	const minWait, maxWait = 10 * time.Millisecond, time.Second
	wait := minWait
	for {
		ch, cancel := n.cfg.Events.Subscribe()
		before := n.last
		for _, e := range n.cfg.Events.List(n.last, 0) {
			n.handle(e)
		}
		open := true
		for open {
			select {
			case <-ctx.Done():
				cancel()
				return
			case e, ok := <-ch:
				if !ok {
					open = false
					break
				}
				n.handle(e)
			}
		}
		cancel()
		// A closed event log closes every new subscription at once: do not
		// spin on it.
		if n.last != before {
			n.catchUps.Add(1)
			n.log.Debug("event log subscription dropped; catching up", "after", n.last)
			wait = minWait
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// handle processes e once, in sequence order, first filling any gap
// before it from the log.
func (n *Notifier) handle(e telemetry.Event) {
	if e.Seq <= n.last {
		return // seen already (catch-up and subscription overlap)
	}
	if e.Seq > n.last+1 {
		for _, m := range n.cfg.Events.List(n.last, int(e.Seq-n.last-1)) {
			if m.Seq < e.Seq {
				n.process(m)
			}
		}
	}
	n.process(e)
}

// process checks e, the next event after n.last, for an alert and queues
// it for the webhook and syslog.
func (n *Notifier) process(e telemetry.Event) {
	if e.Seq > n.last+1 {
		n.log.Warn("events left the event log before they could be checked for alerts",
			"first", n.last+1, "last", e.Seq-1)
	}
	if n.hookFollow != nil {
		n.hookFollow(e)
	}
	n.last = e.Seq
	if !n.types[e.Type] {
		return
	}
	if n.webhook() != "" {
		n.pending.Add(1)
		select {
		case n.queue <- job{ev: e, queued: time.Now()}:
		default:
			n.drop(e, "alert queue full")
		}
	}
	if n.cfg.Syslog {
		select {
		case n.slq <- e:
		default:
			n.log.Warn("alert not sent to syslog: syslog queue full", "seq", e.Seq, "type", e.Type)
		}
	}
}

func (n *Notifier) webhook() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.url
}

func (n *Notifier) setErr(err error) {
	n.mu.Lock()
	n.lastErr = err.Error()
	n.mu.Unlock()
}

// drop counts a pending alert as dropped.
func (n *Notifier) drop(e telemetry.Event, reason string) {
	n.pending.Add(^uint64(0))
	n.dropped.Add(1)
	n.log.Warn("alert dropped", "reason", reason, "seq", e.Seq, "type", e.Type)
}

// deliverLoop posts the queued alerts one at a time until ctx is done.
func (n *Notifier) deliverLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-n.queue:
			n.deliver(ctx, j)
		}
	}
}

// deliver posts j, retrying with backoff, and accounts for the outcome.
func (n *Notifier) deliver(ctx context.Context, j job) {
	body, err := json.Marshal(payload{
		Unit:     n.cfg.Unit,
		Seq:      j.ev.Seq,
		Time:     j.ev.Time.UTC(),
		Type:     j.ev.Type,
		Severity: j.ev.Severity,
		Message:  j.ev.Message,
		Attrs:    nonNil(j.ev.Attrs),
	})
	if err != nil { // cannot happen for these field types
		n.setErr(err)
		n.pending.Add(^uint64(0))
		n.failed.Add(1)
		return
	}
	backoff := n.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		u := n.webhook()
		if u == "" {
			n.drop(j.ev, "webhook disabled")
			return
		}
		retry, err := n.post(ctx, u, body)
		if err == nil {
			n.pending.Add(^uint64(0))
			n.delivered.Add(1)
			n.log.Debug("alert delivered", "seq", j.ev.Seq, "type", j.ev.Type, "attempt", attempt)
			return
		}
		if ctx.Err() != nil {
			n.drop(j.ev, "notifier stopped")
			return
		}
		n.setErr(err)
		if !retry || attempt >= n.cfg.MaxAttempts || time.Since(j.queued)+backoff > n.cfg.MaxAge {
			n.pending.Add(^uint64(0))
			n.failed.Add(1)
			n.log.Error("alert not delivered to webhook", "seq", j.ev.Seq, "type", j.ev.Type,
				"attempts", attempt, "err", err)
			return
		}
		n.log.Warn("alert webhook failed; retrying", "seq", j.ev.Seq, "type", j.ev.Type,
			"attempt", attempt, "in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			n.drop(j.ev, "notifier stopped")
			return
		case <-n.wake: // new URL: try it now
			t.Stop()
			backoff = n.cfg.MinBackoff
			continue
		case <-t.C:
		}
		backoff = min(2*backoff, n.cfg.MaxBackoff)
	}
}

// post sends one attempt and reports whether a failure is worth retrying.
func (n *Notifier) post(ctx context.Context, u string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("alert webhook %s: %w", redact(u), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tandem/"+n.cfg.Version)
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, query and all
		}
		return true, fmt.Errorf("alert webhook %s: %w", redact(u), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c >= 500, c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests:
		return true, fmt.Errorf("alert webhook %s: %s", redact(u), resp.Status)
	default:
		return false, fmt.Errorf("alert webhook %s: %s (not retried)", redact(u), resp.Status)
	}
}

// syslogLoop writes alerts to the local syslog until ctx is done. Without
// a syslog socket alerts are skipped; that is logged once, at debug level.
func (n *Notifier) syslogLoop(ctx context.Context) {
	var w *syslog.Writer
	defer func() {
		if w != nil {
			_ = w.Close()
		}
	}()
	noSocketLogged := false
	for {
		var e telemetry.Event
		select {
		case <-ctx.Done():
			return
		case e = <-n.slq:
		}
		if w == nil {
			var err error
			if w, err = syslogDial(); err != nil {
				w = nil
				if !noSocketLogged {
					noSocketLogged = true
					n.log.Debug("no local syslog; alerts go to the webhook only", "err", err)
				}
				continue
			}
		}
		if err := writeSyslog(w, n.cfg.Unit, e); err != nil {
			n.setErr(fmt.Errorf("alert syslog: %w", err))
			n.log.Warn("alert not written to syslog", "seq", e.Seq, "type", e.Type, "err", err)
			continue
		}
		n.syslogSent.Add(1)
	}
}

// writeSyslog writes e with the priority of its severity.
func writeSyslog(w *syslog.Writer, unit string, e telemetry.Event) error {
	var b strings.Builder
	fmt.Fprintf(&b, "HA alert unit=%s seq=%d type=%s severity=%s: %s", unit, e.Seq, e.Type, e.Severity, e.Message)
	for _, k := range slices.Sorted(maps.Keys(e.Attrs)) {
		fmt.Fprintf(&b, " %s=%q", k, e.Attrs[k])
	}
	msg := b.String()
	switch e.Severity {
	case telemetry.SeverityError:
		return w.Err(msg)
	case telemetry.SeverityWarning:
		return w.Warning(msg)
	default:
		return w.Info(msg)
	}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// redact drops the user info and query of u, which may hold secrets, for
// logs and errors.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	p.User = nil
	p.RawQuery = ""
	p.Fragment = ""
	return p.String()
}
