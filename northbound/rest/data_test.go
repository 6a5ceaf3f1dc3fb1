package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every method of the data API with the status codes of RFC 8040, the
// revision history recording who changed what through REST.
func TestDataMethodsAndStatusCodes(t *testing.T) {
	f := newFixture(t, Options{})
	base := "/restconf/data/tandem-interfaces:interfaces"
	// POST creates: 201 with Location; again: 409 data-exists.
	r := f.must(http.StatusCreated, req{method: "POST", path: base, body: `{"tandem-interfaces:interface": [{"name": "X1", "config": {"name": "X1", "zone": "lan"}}]}`})
	if loc := r.header.Get("Location"); loc != base+"/interface=X1" {
		t.Errorf("Location %q", loc)
	}
	r = f.must(http.StatusConflict, req{method: "POST", path: base, body: `{"tandem-interfaces:interface": [{"name": "X1"}]}`})
	if e := r.errorEntries(t)[0]; e.Tag != "data-exists" || !strings.Contains(e.Path, "interface[name='X1']") {
		t.Errorf("conflict entry %+v", e)
	}
	// GET the entry: the list member holds one entry.
	r = f.must(http.StatusOK, req{method: "GET", path: base + "/interface=X1"})
	if got := compact(at(r.json(t), "tandem-interfaces:interface")); got != `[{"config":{"name":"X1","zone":"lan"},"name":"X1"}]` {
		t.Errorf("GET entry: %s", got)
	}
	// PUT of a leaf that exists: 204; of a new entry: 201.
	f.must(http.StatusNoContent, req{method: "PUT", path: base + "/interface=X1/config/zone", body: `{"tandem-interfaces:zone": "dmz"}`})
	f.must(http.StatusCreated, req{method: "PUT", path: base + "/interface=X2", body: `{"tandem-interfaces:interface": [{"name": "X2", "config": {"name": "X2", "zone": "wan"}}]}`})
	// PUT with a key in the body that contradicts the URL: 400.
	r = f.must(http.StatusBadRequest, req{method: "PUT", path: base + "/interface=X3", body: `{"tandem-interfaces:interface": [{"name": "X4"}]}`})
	if !strings.Contains(r.errorEntries(t)[0].Message, "must agree") {
		t.Errorf("key mismatch: %s", r.body)
	}
	// PATCH merges: zone changes, name stays; PATCH of a missing entry: 404.
	f.must(http.StatusNoContent, req{method: "PATCH", path: base + "/interface=X2", body: `{"tandem-interfaces:interface": [{"name": "X2", "config": {"zone": "lan"}}]}`})
	if got := at(f.running(), "tandem-interfaces:interfaces"); !strings.Contains(compact(got), `{"config":{"name":"X2","zone":"lan"},"name":"X2"}`) {
		t.Errorf("after PATCH: %s", compact(got))
	}
	f.must(http.StatusNotFound, req{method: "PATCH", path: base + "/interface=X9", body: `{"tandem-interfaces:interface": [{"name": "X9"}]}`})
	// DELETE: 204, then 404.
	f.must(http.StatusNoContent, req{method: "DELETE", path: base + "/interface=X2"})
	r = f.must(http.StatusNotFound, req{method: "DELETE", path: base + "/interface=X2"})
	if e := r.errorEntries(t)[0]; e.Tag != "data-missing" {
		t.Errorf("delete missing: %+v", e)
	}
	f.must(http.StatusNotFound, req{method: "GET", path: base + "/interface=X2"})
	// The audit trail: every change is a revision by admin through rest,
	// naming the request.
	h := f.b.Store.History(0)
	if h[0].Author != "admin" || h[0].Origin != "rest" || !strings.Contains(h[0].Comment, "DELETE /restconf/data/tandem-interfaces:interfaces/interface=X2") {
		t.Errorf("newest revision %+v", h[0])
	}
	if len(h) != 6 { // initial + POST + PUT + PUT + PATCH + DELETE
		t.Errorf("%d revisions, want 6", len(h))
	}
	// HEAD answers the headers of GET without a body; OPTIONS lists methods.
	r = f.must(http.StatusOK, req{method: "HEAD", path: base})
	if len(r.body) != 0 || r.header.Get("ETag") == "" {
		t.Errorf("HEAD: %q %v", r.body, r.header)
	}
	r = f.must(http.StatusOK, req{method: "OPTIONS", path: base})
	if !strings.Contains(r.header.Get("Allow"), "PATCH") {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
}

// Keys are percent-encoded in the URL; multiple keys are comma-separated
// (RFC 8040, 3.5.3): a serial number with a comma and a slash.
func TestEncodedKeys(t *testing.T) {
	f := newFixture(t, Options{})
	// Serial numbers allow neither, so the commit is refused, and the
	// error names the decoded key.
	r := f.must(http.StatusBadRequest, req{method: "PUT", path: "/restconf/data/tandem-licensing:licensing/keysets/keyset=A%2CB%2FC",
		body: `{"tandem-licensing:keyset": [{"serial-number": "A,B/C", "config": {"serial-number": "A,B/C", "keyset": "k"}}]}`})
	if !strings.Contains(string(r.body), `keyset[serial-number='A,B/C']`) {
		t.Errorf("no error-path names the decoded key: %s", r.body)
	}
	f.must(http.StatusCreated, req{method: "PUT", path: "/restconf/data/tandem-licensing:licensing/keysets/keyset=AB-C",
		body: `{"tandem-licensing:keyset": [{"serial-number": "AB-C", "config": {"keyset": "k"}}]}`})
	r = f.must(http.StatusOK, req{method: "GET", path: "/restconf/data/tandem-licensing:licensing/keysets/keyset=AB%2DC/config/keyset"})
	if got := compact(r.json(t)); got != `{"tandem-licensing:keyset":"k"}` {
		t.Errorf("GET leaf: %s", got)
	}
}

func TestGetQueryParameters(t *testing.T) {
	f := newFixture(t, Options{})
	if err := f.b.Tree.Update("/system/state/serial-number", "T1"); err != nil {
		t.Fatal(err)
	}
	f.must(http.StatusNoContent, req{method: "PATCH", path: "/restconf/data/tandem-ha:ha/config", body: `{"tandem-ha:config": {"heartbeat-interval": 150, "failover-trigger-level": 3}}`})
	get := func(q string) string {
		t.Helper()
		return compact(f.must(http.StatusOK, req{method: "GET", path: "/restconf/data/" + q}).json(t))
	}
	for _, c := range []struct{ q, want string }{
		{"tandem-ha:ha/config?fields=heartbeat-interval", `{"tandem-ha:config":{"heartbeat-interval":150}}`},
		{"tandem-ha:ha?fields=config(mode;heartbeat-interval)", `{"tandem-ha:ha":{"config":{"heartbeat-interval":150,"mode":"standalone"}}}`},
		{"tandem-ha:ha?depth=1", `{"tandem-ha:ha":{}}`},
		{"tandem-ha:ha?depth=2", `{"tandem-ha:ha":{"config":{}}}`},
		// with-defaults: trim drops the value equal to its default (3),
		// report-all adds the defaults never set.
		{"tandem-ha:ha/config?with-defaults=trim", `{"tandem-ha:config":{"heartbeat-interval":150}}`},
		{"tandem-ha:ha/config?with-defaults=report-all&fields=preempt-hold-time", `{"tandem-ha:config":{"preempt-hold-time":60}}`},
		{"tandem-ha:ha/config/failover-trigger-level?with-defaults=report-all-tagged", `{"tandem-ha:failover-trigger-level":3}`},
		// content: state comes from the state tree, config from running.
		{"tandem-system:system?content=nonconfig", `{"tandem-system:system":{"state":{"serial-number":"T1"}}}`},
		{"tandem-system:system/state/serial-number", `{"tandem-system:serial-number":"T1"}`},
		{"tandem-ha:ha/config/mode?content=config", `{"tandem-ha:mode":"standalone"}`},
	} {
		if got := get(c.q); got != c.want {
			t.Errorf("GET %s:\n got %s\nwant %s", c.q, got, c.want)
		}
	}
	tagged := get("tandem-ha:ha/config?with-defaults=report-all-tagged")
	if !strings.Contains(tagged, `"@failover-trigger-level":{"ietf-netconf-with-defaults:default":true}`) || strings.Contains(tagged, `"@heartbeat-interval"`) {
		t.Errorf("report-all-tagged: %s", tagged)
	}
	for _, bad := range []string{"tandem-ha:ha?depth=0", "tandem-ha:ha?content=some", "tandem-ha:ha?fields=nothing", "tandem-ha:ha?with-defaults=x", "tandem-ha:ha?frobnicate=1", "tandem-system:system/state?content=config"} {
		r := f.must(http.StatusBadRequest, req{method: "GET", path: "/restconf/data/" + bad})
		if e := r.errorEntries(t)[0]; e.Tag != "invalid-value" || e.Message == "" {
			t.Errorf("GET %s: %+v", bad, e)
		}
	}
}

// Secrets (write-only leaves) are accepted but never returned.
func TestSecretsAreNotReturned(t *testing.T) {
	f := newFixture(t, Options{})
	f.must(http.StatusNoContent, req{method: "PATCH", path: "/restconf/data/tandem-ha:ha/config", body: `{"tandem-ha:config": {"pre-shared-key": "a-very-secret-key"}}`})
	if got := at(f.running(), "tandem-ha:ha", "config", "pre-shared-key"); got != "a-very-secret-key" {
		t.Fatalf("stored key %v", got)
	}
	for _, p := range []string{"/restconf/data", "/restconf/data/tandem-ha:ha/config", "/restconf/ds/ietf-datastores:candidate"} {
		if r := f.must(http.StatusOK, req{method: "GET", path: p}); strings.Contains(string(r.body), "a-very-secret-key") {
			t.Errorf("GET %s returns the secret", p)
		}
	}
}

func TestErrorBodies(t *testing.T) {
	f := newFixture(t, Options{MaxBody: 1024})
	for _, c := range []struct {
		name   string
		r      req
		status int
		tag    string
	}{
		{"malformed JSON", req{method: "PUT", path: "/restconf/data/tandem-ha:ha/config/mode", body: `{"tandem-ha:mode": `}, 400, "malformed-message"},
		{"wrong member", req{method: "PUT", path: "/restconf/data/tandem-ha:ha/config/mode", body: `{"tandem-ha:preempt": true}`}, 400, "invalid-value"},
		{"bad enum", req{method: "PUT", path: "/restconf/data/tandem-ha:ha/config/mode", body: `{"tandem-ha:mode": "sideways"}`}, 400, "invalid-value"},
		{"unknown node", req{method: "GET", path: "/restconf/data/tandem-ha:ha/nothing"}, 404, "invalid-value"},
		{"unqualified top", req{method: "GET", path: "/restconf/data/ha"}, 400, "invalid-value"},
		{"write to state", req{method: "PUT", path: "/restconf/data/tandem-system:system/state/serial-number", body: `{"tandem-system:serial-number": "x"}`}, 405, "operation-not-supported"},
		{"write to operational", req{method: "DELETE", path: "/restconf/ds/ietf-datastores:operational/tandem-ha:ha"}, 405, "operation-not-supported"},
		{"unknown datastore", req{method: "GET", path: "/restconf/ds/ietf-datastores:nothing"}, 404, "invalid-value"},
		{"media type", req{method: "PUT", path: "/restconf/data/tandem-ha:ha/config/mode", body: `{"tandem-ha:mode": "standalone"}`, ctype: "text/plain"}, 415, "invalid-value"},
		{"too big", req{method: "PUT", path: "/restconf/data/tandem-ha:ha/config/mode", body: `{"tandem-ha:mode": "` + strings.Repeat("x", 2000) + `"}`}, 413, "too-big"},
		{"state in body", req{method: "PUT", path: "/restconf/data/tandem-system:system", body: `{"tandem-system:system": {"state": {"serial-number": "x"}}}`}, 400, "invalid-value"},
		{"no route", req{method: "GET", path: "/nothing"}, 404, "invalid-value"},
		{"insert not supported", req{method: "PUT", path: "/restconf/data/tandem-ha:ha/config/mode?insert=first", body: `{"tandem-ha:mode": "standalone"}`}, 400, "invalid-value"},
	} {
		r := f.do(c.r)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d\n%s", c.name, r.status, c.status, r.body)
			continue
		}
		if ct := r.header.Get("Content-Type"); ct != mediaData {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		if e := r.errorEntries(t)[0]; e.Tag != c.tag || e.Message == "" || e.Type == "" {
			t.Errorf("%s: %+v, want tag %s", c.name, e, c.tag)
		}
	}
	if r := f.do(req{method: "PUT", path: "/restconf/data/tandem-system:system/state/serial-number", body: `{}`}); r.header.Get("Allow") == "" {
		t.Errorf("405 without Allow")
	}
}

// A refused commit names every issue with its path, SPEC rule and fix,
// and changes nothing.
func TestValidationErrorsNameRuleAndFix(t *testing.T) {
	f := newFixture(t, Options{})
	before := compact(f.running())
	r := f.must(http.StatusBadRequest, req{method: "PUT", path: "/restconf/data/tandem-ha:ha/config/mode", body: `{"tandem-ha:mode": "active-standby"}`})
	entries := r.errorEntries(t)
	for _, e := range entries {
		if e.Info == nil || e.Info.Rule == "" || e.Info.Fix == "" || !strings.HasPrefix(e.Path, "/tandem-") || e.AppTag != "tandem:"+e.Info.Rule {
			t.Errorf("issue without path, rule or fix: %+v", e)
		}
	}
	if compact(f.running()) != before {
		t.Errorf("a refused commit changed running")
	}
}

// ETag and Last-Modified come from the running revision; If-Match with an
// old tag is refused with 412 and changes nothing; If-None-Match gives 304.
func TestETagAndIfMatch(t *testing.T) {
	f := newFixture(t, Options{})
	r := f.must(http.StatusOK, req{method: "GET", path: "/restconf/data/tandem-ha:ha"})
	tag := r.header.Get("ETag")
	if tag != `"1"` || r.header.Get("Last-Modified") == "" {
		t.Fatalf("ETag %q Last-Modified %q", tag, r.header.Get("Last-Modified"))
	}
	f.must(http.StatusNotModified, req{method: "GET", path: "/restconf/data/tandem-ha:ha", header: map[string]string{"If-None-Match": tag}})
	w := f.must(http.StatusNoContent, req{method: "PATCH", path: "/restconf/data/tandem-ha:ha/config", body: `{"tandem-ha:config": {"preempt": true}}`, header: map[string]string{"If-Match": tag}})
	if w.header.Get("ETag") != `"2"` {
		t.Errorf("ETag after write %q", w.header.Get("ETag"))
	}
	r = f.must(http.StatusPreconditionFailed, req{method: "PATCH", path: "/restconf/data/tandem-ha:ha/config", body: `{"tandem-ha:config": {"preempt": false}}`, header: map[string]string{"If-Match": tag}})
	if e := r.errorEntries(t)[0]; e.Tag != "operation-failed" {
		t.Errorf("412 entry %+v", e)
	}
	if got := at(f.running(), "tandem-ha:ha", "config", "preempt"); got != true {
		t.Errorf("preempt %v after a refused write", got)
	}
}

// Many clients writing at once: every write is its own revision, none is
// lost, and the optimistic-concurrency loop (GET, If-Match, retry on 412)
// counts exactly.
func TestParallelWritersSerialize(t *testing.T) {
	f := newFixture(t, Options{})
	const writers, each = 6, 4
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			for i := 0; i < each; i++ {
				for {
					r := f.do(req{method: "GET", path: "/restconf/data/tandem-system:system/config/reconcile-interval?with-defaults=report-all"})
					var v struct {
						N int `json:"tandem-system:reconcile-interval"`
					}
					if err := json.Unmarshal(r.body, &v); err != nil || v.N == 0 {
						errs <- fmt.Errorf("writer %d: GET %d %s", w, r.status, r.body)
						return
					}
					n := v.N
					body := fmt.Sprintf(`{"tandem-system:reconcile-interval": %d}`, n+1)
					r = f.do(req{method: "PUT", path: "/restconf/data/tandem-system:system/config/reconcile-interval", body: body, header: map[string]string{"If-Match": r.header.Get("ETag")}})
					if r.status == http.StatusPreconditionFailed {
						continue
					}
					if r.status >= 300 {
						errs <- fmt.Errorf("writer %d: %d %s", w, r.status, r.body)
						return
					}
					break
				}
			}
			errs <- nil
		}(w)
	}
	deadline := time.After(45 * time.Second)
	for w := 0; w < writers; w++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("writers did not finish")
		}
	}
	// Default 30, one increment per write.
	if got := compact(at(f.running(), "tandem-system:system", "config", "reconcile-interval")); got != fmt.Sprint(30+writers*each) {
		t.Errorf("reconcile-interval %s after %d increments from 30", got, writers*each)
	}
	if n := len(f.b.Store.History(0)); n != 1+writers*each {
		t.Errorf("%d revisions, want %d", n, 1+writers*each)
	}
}
