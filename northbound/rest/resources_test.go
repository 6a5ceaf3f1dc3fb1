package rest

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/rest/openapi"
)

func TestOperations(t *testing.T) {
	f := newFixture(t, Options{})
	r := f.must(http.StatusOK, req{method: "GET", path: "/restconf/operations"})
	ops := at(r.json(t), "ietf-restconf:operations").(map[string]any)
	for _, name := range []string{"failover", "force-active", "force-standby", "reset", "sync-settings", "sync-firmware", "config-diff", "join", "remove-member", "apply-licence-keyset", "commit", "rollback"} {
		if _, ok := ops["tandem-operations:"+name]; !ok {
			t.Errorf("operation %s not listed", name)
		}
	}
	f.must(http.StatusNotFound, req{method: "POST", path: "/restconf/operations/tandem-operations:nothing"})
	f.must(http.StatusNotFound, req{method: "POST", path: "/restconf/operations/other:commit"})
	// Mandatory input checked by the backend: 400 naming the field.
	r = f.must(http.StatusBadRequest, req{method: "POST", path: "/restconf/operations/tandem-operations:join", body: `{"tandem-operations:input": {"peer": "169.254.10.1"}}`})
	if !strings.Contains(r.errorEntries(t)[0].Message, "key") {
		t.Errorf("join without key: %s", r.body)
	}
	// LIC-3: a keyset applied through REST becomes configuration.
	r = f.must(http.StatusOK, req{method: "POST", path: "/restconf/operations/tandem-operations:apply-licence-keyset", body: `{"tandem-operations:input": {"serial-number": "T0000001", "keyset": "signed-keyset"}}`})
	if !strings.Contains(string(r.body), `"revision"`) {
		t.Errorf("apply-licence-keyset output %s", r.body)
	}
	if got := at(f.running(), "tandem-licensing:licensing", "keysets"); !strings.Contains(compact(got), "signed-keyset") {
		t.Errorf("keyset not in running: %s", compact(got))
	}
	// The HA engine runs standalone here: admin commands are refused
	// with 409 and its reason.
	for _, op := range []string{"force-standby", "reset"} {
		r = f.must(http.StatusConflict, req{method: "POST", path: "/restconf/operations/tandem-operations:" + op})
		if !strings.Contains(r.errorEntries(t)[0].Message, "not running") {
			t.Errorf("%s: %s", op, r.body)
		}
	}
	f.must(http.StatusServiceUnavailable, req{method: "POST", path: "/restconf/operations/tandem-operations:sync-firmware"})
}

// sseReader opens an event stream and returns its data lines.
func (f *fixture) sseReader(ctx context.Context, path string, header map[string]string) <-chan string {
	f.t.Helper()
	hr, err := http.NewRequestWithContext(ctx, "GET", f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	hr.SetBasicAuth(auth.BootstrapUser, f.adminPW)
	hr.Header.Set("Accept", mediaEventSSE)
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mediaEventSSE {
		f.t.Fatalf("stream %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				out <- line
			}
		}
	}()
	return out
}

func next(t *testing.T, ch <-chan string) map[string]any {
	t.Helper()
	select {
	case line, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("event data %q: %v", line, err)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return nil
}

// SPEC: OBS-2
// The HA event log and state changes as server-sent events.
func TestEventAndStateStreams(t *testing.T) {
	f := newFixture(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := f.b.Events.Append(telemetry.Event{Type: "role-change", Message: "before the stream"})
	if err != nil {
		t.Fatal(err)
	}
	events := f.sseReader(ctx, "/restconf/streams/events", nil)
	state := f.sseReader(ctx, "/restconf/streams/state?path=/ha/state", nil)
	time.Sleep(100 * time.Millisecond) // let both subscribe
	if _, err := f.b.Events.Append(telemetry.Event{Type: "peer-lost", Severity: "warning", Message: "peer LAB-FW2 lost"}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events)
	if got := at(ev, "ietf-restconf:notification", "tandem-system:event", "type"); got != "peer-lost" {
		t.Errorf("event %v", ev)
	}
	if at(ev, "ietf-restconf:notification", "eventTime") == nil {
		t.Errorf("no eventTime: %v", ev)
	}
	if err := f.b.Tree.Update("/system/state/serial-number", "ignored by the path filter"); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Tree.Update("/ha/state/mode", "active-standby"); err != nil {
		t.Fatal(err)
	}
	sc := next(t, state)
	if got := compact(at(sc, "ietf-restconf:notification", "tandem:state-change")); got != `{"path":"/ha/state/mode","value":"active-standby"}` {
		t.Errorf("state change %s", got)
	}
	// Reconnecting with Last-Event-ID replays what came after it.
	replay := f.sseReader(ctx, "/restconf/streams/events", map[string]string{"Last-Event-ID": strings.TrimSpace(jsonString(first.Seq))})
	if got := at(next(t, replay), "ietf-restconf:notification", "tandem-system:event", "type"); got != "peer-lost" {
		t.Errorf("replay gave %v", got)
	}
	f.must(http.StatusBadRequest, req{method: "GET", path: "/restconf/streams/events?start-after=x"})
	r := f.must(http.StatusOK, req{method: "GET", path: "/restconf/streams"})
	if !strings.Contains(string(r.body), "/restconf/streams/events") {
		t.Errorf("stream list %s", r.body)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// Root discovery, the YANG library (RFC 8525) and module sources.
func TestLibraryAndDiscovery(t *testing.T) {
	f := newFixture(t, Options{})
	r := f.must(http.StatusOK, req{method: "GET", path: "/.well-known/host-meta", noAuth: true})
	if !strings.Contains(string(r.body), `rel="restconf" href="/restconf"`) {
		t.Errorf("host-meta %s", r.body)
	}
	r = f.must(http.StatusOK, req{method: "GET", path: "/restconf/yang-library-version"})
	if got := compact(r.json(t)); got != `{"ietf-restconf:yang-library-version":"2019-01-04"}` {
		t.Errorf("yang-library-version %s", got)
	}
	f.must(http.StatusOK, req{method: "GET", path: "/restconf"})
	r = f.must(http.StatusOK, req{method: "GET", path: "/restconf/data/ietf-yang-library:yang-library"})
	lib := compact(r.json(t))
	for _, want := range []string{`"name":"tandem-ha"`, `"namespace":"urn:tandem:yang:tandem-ha"`, `"import-only-module"`, `"name":"ietf-datastores:candidate"`, `"location":["/restconf/yang/tandem-ha@`} {
		if !strings.Contains(lib, want) {
			t.Errorf("yang-library lacks %s", want)
		}
	}
	f.must(http.StatusMethodNotAllowed, req{method: "PUT", path: "/restconf/data/ietf-yang-library:yang-library", body: `{}`})
	want, err := os.ReadFile("../../yang/tandem-ha.yang")
	if err != nil {
		t.Fatal(err)
	}
	r = f.must(http.StatusOK, req{method: "GET", path: "/restconf/yang/tandem-ha"})
	if string(r.body) != string(want) || r.header.Get("Content-Type") != mediaYANG {
		t.Errorf("tandem-ha source differs from yang/tandem-ha.yang (%s)", r.header.Get("Content-Type"))
	}
	f.must(http.StatusNotFound, req{method: "GET", path: "/restconf/yang/tandem-ha@1999-01-01"})
	r = f.must(http.StatusOK, req{method: "GET", path: "/tandem/v1/history"})
	if !strings.Contains(string(r.body), `"origin": "initial"`) {
		t.Errorf("history %s", r.body)
	}
}

// The OpenAPI document generated from the YANG describes exactly what the
// running server routes: every documented operation reaches a handler of
// its method, every route of the server is documented, and the document
// served is the generated one.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t, Options{})
	r := f.must(http.StatusOK, req{method: "GET", path: "/restconf/openapi.json"})
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi %v", doc["openapi"])
	}
	gen, _ := json.Marshal(openapi.Generate(f.rest.schema))
	served, _ := json.Marshal(doc)
	if string(gen) != string(served) {
		t.Errorf("the served document is not the generated one")
	}
	paths := doc["paths"].(map[string]any)
	if len(paths) < 100 {
		t.Errorf("only %d paths", len(paths))
	}
	e := f.rest.echo
	documented := map[string]bool{} // echo route "METHOD path" covered
	for p, item := range paths {
		concrete := strings.NewReplacer("{", "", "}", "").Replace(p)
		for method := range item.(map[string]any) {
			m := strings.ToUpper(method)
			ctx := e.NewContext(nil, nil)
			e.Router().Find(m, concrete, ctx)
			route := ctx.Path()
			if route == "" || !hasRoute(e, m, route) {
				t.Errorf("documented %s %s: no route (matched %q)", m, p, route)
				continue
			}
			documented[m+" "+route] = true
		}
	}
	for _, rt := range e.Routes() {
		if rt.Method == "HEAD" || rt.Method == "OPTIONS" || rt.Method == echo.RouteNotFound {
			continue // implied by GET (RFC 9110) and answered for every data path
		}
		if !documented[rt.Method+" "+rt.Path] {
			t.Errorf("route %s %s is not in the OpenAPI document", rt.Method, rt.Path)
		}
	}
	// A leaf and an rpc carry their YANG types and input.
	hb := compact(paths["/restconf/data/tandem-ha:ha/config/heartbeat-interval"])
	if !strings.Contains(hb, `"type":"integer"`) || !strings.Contains(hb, `"put"`) {
		t.Errorf("heartbeat-interval path: %s", hb)
	}
	if st := compact(paths["/restconf/data/tandem-system:system/state/serial-number"]); strings.Contains(st, `"put"`) {
		t.Errorf("a state leaf is writable in the document")
	}
	if rb := compact(paths["/restconf/operations/tandem-operations:commit"]); !strings.Contains(rb, "tandem-operations:input") {
		t.Errorf("commit has no input: %s", rb)
	}
}

func hasRoute(e *echo.Echo, method, path string) bool {
	for _, r := range e.Routes() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}
