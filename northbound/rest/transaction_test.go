package rest

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The explicit candidate: several edits leave running alone until the
// commit operation; validate reports without committing; discard drops
// the edits.
func TestCandidateEditsAndCommit(t *testing.T) {
	f := newFixture(t, Options{})
	cand := "/restconf/ds/ietf-datastores:candidate"
	f.must(http.StatusNoContent, req{method: "PATCH", path: cand + "/tandem-ha:ha/config", body: `{"tandem-ha:config": {"preempt": true}}`})
	f.must(http.StatusCreated, req{method: "PUT", path: cand + "/tandem-system:system/config/reconcile-interval", body: `{"tandem-system:reconcile-interval": 60}`})
	if got := at(f.running(), "tandem-ha:ha", "config", "preempt"); got != nil {
		t.Fatalf("running changed before commit: preempt %v", got)
	}
	r := f.must(http.StatusOK, req{method: "GET", path: cand + "/tandem-ha:ha/config/preempt"})
	if got := compact(r.json(t)); got != `{"tandem-ha:preempt":true}` {
		t.Errorf("candidate read %s", got)
	}
	f.must(http.StatusOK, req{method: "POST", path: "/restconf/operations/tandem-operations:validate"})
	r = f.must(http.StatusOK, req{method: "POST", path: "/restconf/operations/tandem-operations:commit", body: `{"tandem-operations:input": {"comment": "two edits"}}`})
	if got := compact(r.json(t)); got != `{"tandem-operations:output":{"revision":2}}` {
		t.Errorf("commit output %s", got)
	}
	if got := at(f.running(), "tandem-system:system", "config", "reconcile-interval"); compact(got) != "60" {
		t.Errorf("running reconcile-interval %v after commit", got)
	}
	if h := f.b.Store.History(1)[0]; h.Comment != "two edits" || h.Author != "admin" || h.Origin != "rest" {
		t.Errorf("revision %+v", h)
	}
	// An edit that does not validate: validate and commit refuse with the
	// issues; discard drops it; running is untouched.
	f.must(http.StatusNoContent, req{method: "PATCH", path: cand + "/tandem-ha:ha/config", body: `{"tandem-ha:config": {"mode": "active-standby"}}`})
	r = f.must(http.StatusBadRequest, req{method: "POST", path: "/restconf/operations/tandem-operations:validate"})
	if e := r.errorEntries(t)[0]; e.Info == nil || e.Info.Rule == "" {
		t.Errorf("validate entry %+v", e)
	}
	f.must(http.StatusBadRequest, req{method: "POST", path: "/restconf/operations/tandem-operations:commit"})
	f.must(http.StatusNoContent, req{method: "POST", path: "/restconf/operations/tandem-operations:discard"})
	r = f.must(http.StatusOK, req{method: "GET", path: cand + "/tandem-ha:ha/config/mode"})
	if !strings.Contains(string(r.body), "standalone") {
		t.Errorf("candidate after discard: %s", r.body)
	}
	// Rollback makes the previous configuration running again.
	f.must(http.StatusOK, req{method: "POST", path: "/restconf/operations/tandem-operations:rollback", body: `{"tandem-operations:input": {"n": 1}}`})
	if got := at(f.running(), "tandem-ha:ha", "config", "preempt"); got != nil {
		t.Errorf("preempt %v after rollback", got)
	}
	f.must(http.StatusBadRequest, req{method: "POST", path: "/restconf/operations/tandem-operations:rollback", body: `{"tandem-operations:input": {"n": 0}}`})
	f.must(http.StatusBadRequest, req{method: "POST", path: "/restconf/operations/tandem-operations:rollback", body: `{"tandem-operations:input": {"bogus": 1}}`})
	f.must(http.StatusBadRequest, req{method: "POST", path: "/restconf/operations/tandem-operations:rollback", body: `{"input": {"n": 1}}`})
}

// A confirmed commit that is not confirmed in time rolls back by itself;
// a confirmed one stays.
func TestConfirmedCommitRollsBack(t *testing.T) {
	f := newFixture(t, Options{})
	cand := "/restconf/ds/ietf-datastores:candidate"
	f.must(http.StatusNoContent, req{method: "PATCH", path: cand + "/tandem-ha:ha/config", body: `{"tandem-ha:config": {"preempt": true}}`})
	f.must(http.StatusOK, req{method: "POST", path: "/restconf/operations/tandem-operations:commit", body: `{"tandem-operations:input": {"confirm-timeout": 1}}`})
	if got := at(f.running(), "tandem-ha:ha", "config", "preempt"); got != true {
		t.Fatalf("preempt %v right after the confirmed commit", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for at(f.running(), "tandem-ha:ha", "config", "preempt") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the unconfirmed commit was not rolled back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h := f.b.Store.History(1)[0]; h.Origin != "confirm-timeout" {
		t.Errorf("rollback revision origin %q", h.Origin)
	}
	// Confirmed in time: stays.
	f.must(http.StatusNoContent, req{method: "PATCH", path: cand + "/tandem-ha:ha/config", body: `{"tandem-ha:config": {"preempt": true}}`})
	f.must(http.StatusOK, req{method: "POST", path: "/restconf/operations/tandem-operations:commit", body: `{"tandem-operations:input": {"confirm-timeout": 1}}`})
	f.must(http.StatusNoContent, req{method: "POST", path: "/restconf/operations/tandem-operations:confirm"})
	time.Sleep(1500 * time.Millisecond)
	if got := at(f.running(), "tandem-ha:ha", "config", "preempt"); got != true {
		t.Errorf("preempt %v after a confirmed commit", got)
	}
	f.must(http.StatusConflict, req{method: "POST", path: "/restconf/operations/tandem-operations:confirm"})
}

// RFC 8072 YANG patch: several edits in one commit, all or nothing.
func TestYangPatch(t *testing.T) {
	f := newFixture(t, Options{})
	patch := `{"ietf-yang-patch:yang-patch": {"patch-id": "p1", "edit": [
	  {"edit-id": "e1", "operation": "merge", "target": "/tandem-ha:ha/config", "value": {"tandem-ha:config": {"preempt": true}}},
	  {"edit-id": "e2", "operation": "create", "target": "/tandem-interfaces:interfaces/interface=X1", "value": {"tandem-interfaces:interface": [{"name": "X1", "config": {"name": "X1", "zone": "lan"}}]}},
	  {"edit-id": "e3", "operation": "replace", "target": "/tandem-system:system/config/reconcile-interval", "value": {"tandem-system:reconcile-interval": 45}}
	]}}`
	r := f.must(http.StatusOK, req{method: "PATCH", path: "/restconf/data", body: patch, ctype: mediaPatch})
	if got := compact(r.json(t)); got != `{"ietf-yang-patch:yang-patch-status":{"ok":[null],"patch-id":"p1"}}` {
		t.Errorf("status %s", got)
	}
	if n := len(f.b.Store.History(0)); n != 2 {
		t.Errorf("%d revisions, want one commit for the patch", n)
	}
	before := compact(f.running())
	// Relative targets under the request's resource; the second edit fails
	// (exists), so the first is not applied either.
	bad := `{"ietf-yang-patch:yang-patch": {"patch-id": "p2", "edit": [
	  {"edit-id": "a", "operation": "merge", "target": "/interface=X1/config", "value": {"tandem-interfaces:config": {"zone": "wan"}}},
	  {"edit-id": "b", "operation": "create", "target": "/interface=X1", "value": {"tandem-interfaces:interface": [{"name": "X1"}]}}
	]}}`
	r = f.must(http.StatusConflict, req{method: "PATCH", path: "/restconf/data/tandem-interfaces:interfaces", body: bad, ctype: mediaPatch})
	status := at(r.json(t), "ietf-yang-patch:yang-patch-status", "edit-status", "edit")
	if !strings.Contains(compact(status), `"edit-id":"b"`) || !strings.Contains(compact(status), "data-exists") {
		t.Errorf("edit-status %s", compact(status))
	}
	if compact(f.running()) != before {
		t.Errorf("a failed patch changed running")
	}
	// delete of a missing node fails, remove does not; validation errors
	// are global errors.
	f.must(http.StatusNotFound, req{method: "PATCH", path: "/restconf/data", ctype: mediaPatch, body: `{"ietf-yang-patch:yang-patch": {"patch-id": "p3", "edit": [{"edit-id": "d", "operation": "delete", "target": "/tandem-dpi:dpi"}]}}`})
	f.must(http.StatusOK, req{method: "PATCH", path: "/restconf/data", ctype: mediaPatch, body: `{"ietf-yang-patch:yang-patch": {"patch-id": "p4", "edit": [{"edit-id": "d", "operation": "remove", "target": "/tandem-dpi:dpi"}]}}`})
	r = f.must(http.StatusBadRequest, req{method: "PATCH", path: "/restconf/data", ctype: mediaPatch, body: `{"ietf-yang-patch:yang-patch": {"patch-id": "p5", "edit": [{"edit-id": "m", "operation": "merge", "target": "/tandem-ha:ha/config/mode", "value": {"tandem-ha:mode": "active-standby"}}]}}`})
	if errs := at(r.json(t), "ietf-yang-patch:yang-patch-status", "errors", "error"); !strings.Contains(compact(errs), `"rule"`) {
		t.Errorf("global errors %s", compact(errs))
	}
	f.must(http.StatusBadRequest, req{method: "PATCH", path: "/restconf/data", ctype: mediaPatch, body: `{"ietf-yang-patch:yang-patch": {"patch-id": "p6", "edit": [{"edit-id": "m", "operation": "move", "target": "/tandem-ha:ha"}]}}`})
}
