package rest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/northbound/auth"
)

// userEntry is a user list entry with a password (argon2id) and a
// bearer token, and the token.
func (f *fixture) userEntry(name, role, password string) (entry, token string) {
	f.t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		f.t.Fatal(err)
	}
	tok, tokHash, err := auth.NewToken()
	if err != nil {
		f.t.Fatal(err)
	}
	return fmt.Sprintf(`{"name": %q, "config": {"name": %q, "role": %q, "password-hash": %q, "token-hash": [%q]}}`, name, name, role, hash, tokHash), tok
}

// addUser creates one user as the bootstrap admin (the first user ends
// the bootstrap password).
func (f *fixture) addUser(name, role, password string) (token string) {
	f.t.Helper()
	entry, tok := f.userEntry(name, role, password)
	f.must(http.StatusCreated, req{method: "POST", path: "/restconf/data/tandem-system:system/users", body: `{"tandem-system:user": [` + entry + `]}`})
	return tok
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, Options{})
	// No credentials: 401 with both challenges.
	r := f.must(http.StatusUnauthorized, req{method: "GET", path: "/restconf/data", noAuth: true})
	if ch := strings.Join(r.header.Values("WWW-Authenticate"), "; "); !strings.Contains(ch, "Basic") || !strings.Contains(ch, "Bearer") {
		t.Errorf("WWW-Authenticate %q", ch)
	}
	if e := r.errorEntries(t)[0]; e.Tag != "access-denied" || e.Type != "protocol" {
		t.Errorf("401 entry %+v", e)
	}
	f.must(http.StatusUnauthorized, req{method: "GET", path: "/restconf/data", user: "admin", pass: "wrong"})
	f.must(http.StatusUnauthorized, req{method: "GET", path: "/restconf/data", token: "tdm_nope"})
	f.must(http.StatusUnauthorized, req{method: "GET", path: "/restconf/data", header: map[string]string{"Authorization": "Digest x"}})
	// host-meta needs no credentials (RFC 8040 root discovery).
	f.must(http.StatusOK, req{method: "GET", path: "/.well-known/host-meta", noAuth: true})

	tok := f.addUser("alice", "admin", "alice-password")
	// Once a user exists, the bootstrap admin password is no longer valid.
	f.must(http.StatusUnauthorized, req{method: "GET", path: "/restconf/data"})
	f.must(http.StatusOK, req{method: "GET", path: "/restconf/data", user: "alice", pass: "alice-password"})
	f.must(http.StatusOK, req{method: "GET", path: "/restconf/data", token: tok})
	f.must(http.StatusNoContent, req{method: "PATCH", path: "/restconf/data/tandem-ha:ha/config", token: tok, body: `{"tandem-ha:config": {"preempt": true}}`})
	if h := f.b.Store.History(1)[0]; h.Author != "alice" || h.Origin != "rest" {
		t.Errorf("revision by %q via %q, want alice via rest", h.Author, h.Origin)
	}
}

// Five failed logins from one address block it: 429 with Retry-After,
// even for the right password.
func TestFailedLoginsAreRateLimited(t *testing.T) {
	f := newFixture(t, Options{})
	for i := 0; i < 5; i++ {
		f.must(http.StatusUnauthorized, req{method: "GET", path: "/restconf/data", user: "admin", pass: "guess"})
	}
	r := f.must(http.StatusTooManyRequests, req{method: "GET", path: "/restconf/data"})
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if e := r.errorEntries(t)[0]; e.Tag != "resource-denied" || !strings.Contains(e.Message, "too many failed logins") {
		t.Errorf("429 entry %+v", e)
	}
}

// Roles: read-only reads only, operator runs operations but changes no
// configuration; each refusal is a 403 naming the user, role and request.
func TestRoles(t *testing.T) {
	f := newFixture(t, Options{})
	var entries []string
	for _, u := range [][3]string{{"root", "admin", "root-password"}, {"olga", "operator", "olga-password"}, {"rita", "read-only", "rita-password"}} {
		e, _ := f.userEntry(u[0], u[1], u[2])
		entries = append(entries, e)
	}
	f.must(http.StatusNoContent, req{method: "PATCH", path: "/restconf/data/tandem-system:system/users", body: `{"tandem-system:users": {"user": [` + strings.Join(entries, ",") + `]}}`})
	f.must(http.StatusOK, req{method: "GET", path: "/restconf/data/tandem-ha:ha", user: "rita", pass: "rita-password"})
	for _, u := range [][2]string{{"rita", "rita-password"}, {"olga", "olga-password"}} {
		r := f.must(http.StatusForbidden, req{method: "PATCH", path: "/restconf/data/tandem-ha:ha/config", user: u[0], pass: u[1], body: `{"tandem-ha:config": {"preempt": true}}`})
		e := r.errorEntries(t)[0]
		if e.Tag != "access-denied" || e.AppTag != "tandem:user-role" || !strings.Contains(e.Message, u[0]) || !strings.Contains(e.Message, "PATCH /restconf/data/tandem-ha:ha/config") {
			t.Errorf("%s: %+v", u[0], e)
		}
		f.must(http.StatusForbidden, req{method: "POST", path: "/restconf/operations/tandem-operations:commit", user: u[0], pass: u[1]})
	}
	// The operator may run operations: force-active reaches the HA engine,
	// which is not running on this standalone unit (409), not 403.
	f.must(http.StatusConflict, req{method: "POST", path: "/restconf/operations/tandem-operations:force-active", user: "olga", pass: "olga-password"})
	f.must(http.StatusForbidden, req{method: "POST", path: "/restconf/operations/tandem-operations:force-active", user: "rita", pass: "rita-password"})
	f.must(http.StatusOK, req{method: "GET", path: "/tandem/v1/status", user: "rita", pass: "rita-password"})
}

// SPEC: CFG-1
// A unit that takes no configuration (a standby) refuses every write with
// 403 and the reason, and still answers reads and the operations CLU-11
// allows.
func TestStandbyRefusesWrites(t *testing.T) {
	f := newFixture(t, Options{})
	reason := "this unit is the standby; change the configuration on the active (LAB-FW1)"
	f.refuse.Store(&reason)
	for _, r := range []req{
		{method: "PATCH", path: "/restconf/data/tandem-ha:ha/config", body: `{"tandem-ha:config": {"preempt": true}}`},
		{method: "PUT", path: "/restconf/ds/ietf-datastores:candidate/tandem-ha:ha/config/preempt", body: `{"tandem-ha:preempt": true}`},
		{method: "DELETE", path: "/restconf/data/tandem-ha:ha/config/preempt"},
		{method: "POST", path: "/restconf/operations/tandem-operations:commit"},
		{method: "POST", path: "/restconf/operations/tandem-operations:sync-settings"},
		{method: "POST", path: "/restconf/operations/tandem-operations:failover"},
	} {
		got := f.do(r)
		if got.status != http.StatusForbidden {
			t.Errorf("%s %s: %d, want 403\n%s", r.method, r.path, got.status, got.body)
			continue
		}
		if e := got.errorEntries(t)[0]; e.AppTag != "tandem:ha-role" || !strings.Contains(e.Message, reason) {
			t.Errorf("%s %s: %+v", r.method, r.path, e)
		}
	}
	f.must(http.StatusOK, req{method: "GET", path: "/restconf/data/tandem-ha:ha"})
	// sync-test is allowed on a standby (CLU-11); here it fails for want
	// of a peer (503), not for the role.
	f.must(http.StatusServiceUnavailable, req{method: "POST", path: "/restconf/operations/tandem-operations:sync-test"})
}
