package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/configsync"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/service"
)

// fixture is a REST server over a real datastore, state tree, event log,
// HA engine (standalone) and authenticator, behind a real TLS listener.
type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	rest    *Server
	b       *service.Backend
	adminPW string
	refuse  atomic.Pointer[string] // when set, MayConfigure refuses with it
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(filepath.Join(dir, "config.db"), store.Options{Validate: validate.StoreValidator, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tree := telemetry.NewTree("T1")
	events, err := telemetry.OpenEventLog(filepath.Join(dir, "events.db"), 100, tree)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { events.Close() })
	authn, err := auth.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(filepath.Join(dir, auth.BootstrapFile))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := ha.New(ha.Options{Serial: "T1", Firmware: "test", DataDir: dir, Logger: log, State: tree})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	running, _ := st.Running()
	engine.Configure(running)
	authn.Follow(st) // users follow the running configuration, as in the daemon
	go engine.Run(ctx)
	syncer := configsync.New(configsync.Options{Serial: "T1", Store: st, Logger: log, State: tree, Role: func() string { return "standalone" }})
	syncer.Configure(running)
	f := &fixture{t: t, adminPW: strings.TrimSpace(string(pw))}
	t.Cleanup(cancel)
	f.b = &service.Backend{
		Store: st, Tree: tree, Events: events, HA: engine, Sync: syncer, Auth: authn, Logger: log, Firmware: "test",
		Status: func() service.Status {
			_, info := st.Running()
			return service.Status{Unit: "T1", SerialNumber: "T1", Role: "standalone", Running: info, CandidateDirty: st.CandidateDirty()}
		},
		MayConfigure: func() error {
			if r := f.refuse.Load(); r != nil {
				return &refusal{*r}
			}
			return nil
		},
	}
	if opts.Logger == nil {
		opts.Logger = log
	}
	f.rest, err = New(f.b, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewTLSServer(f.rest.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

// response is an answer with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// errorEntries decodes an ietf-restconf:errors body.
func (r response) errorEntries(t *testing.T) []ErrorEntry {
	t.Helper()
	var b ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil || len(b.Errors.Error) == 0 {
		t.Fatalf("not an ietf-restconf:errors body (%v): %s", err, r.body)
	}
	return b.Errors.Error
}

// req is one request: credentials default to the bootstrap admin.
type req struct {
	method, path string
	body         string
	ctype        string
	user, pass   string
	token        string
	noAuth       bool
	header       map[string]string
}

func (f *fixture) do(r req) response {
	f.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, f.srv.URL+r.path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if r.body != "" {
		ct := r.ctype
		if ct == "" {
			ct = mediaData
		}
		hr.Header.Set("Content-Type", ct)
	}
	switch {
	case r.noAuth:
	case r.token != "":
		hr.Header.Set("Authorization", "Bearer "+r.token)
	case r.user != "":
		hr.SetBasicAuth(r.user, r.pass)
	default:
		hr.SetBasicAuth(auth.BootstrapUser, f.adminPW)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must does r and fails unless the status is want.
func (f *fixture) must(want int, r req) response {
	f.t.Helper()
	got := f.do(r)
	if got.status != want {
		f.t.Fatalf("%s %s: status %d, want %d\n%s", r.method, r.path, got.status, want, got.body)
	}
	return got
}

// running returns the running configuration as a JSON document.
func (f *fixture) running() map[string]any {
	f.t.Helper()
	d, _ := f.b.Store.Running()
	b, err := model.Encode(d)
	if err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		f.t.Fatal(err)
	}
	return m
}

// at digs a value out of a decoded document by member names.
func at(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// compact renders v as compact JSON for comparisons in messages.
func compact(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}
