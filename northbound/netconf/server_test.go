package netconf

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

func TestHelloAndFramings(t *testing.T) {
	f := newFixture(t)
	for _, bases := range [][]string{{"1.0"}, {"1.0", "1.1"}, {"1.1"}, {"1.0", "1.1-early"}} {
		c := f.admin(bases...)
		if c.id == "" {
			t.Fatal("hello without session-id")
		}
		for _, want := range []string{capBase10, capBase11, "urn:ietf:params:netconf:capability:candidate:1.0",
			"urn:ietf:params:netconf:capability:confirmed-commit:1.1", "urn:ietf:params:netconf:capability:yang-library:1.1"} {
			found := false
			for _, c := range c.caps {
				found = found || strings.HasPrefix(c, want)
			}
			if !found {
				t.Errorf("capability %s missing", want)
			}
		}
		d := c.data(`<get-config><source><running/></source></get-config>`)
		if find(d, "platform") == nil {
			t.Errorf("base %v: get-config lacks /platform: %s", bases, describe(d))
		}
		c.ok(`<close-session/>`)
	}
}

const editMode = `<edit-config><target><candidate/></target><config>
  <ha xmlns="urn:tandem:yang:tandem-ha"><config><heartbeat-interval>%s</heartbeat-interval></config></ha>
</config></edit-config>`

func heartbeat(t *testing.T, c *client, ds string) string {
	t.Helper()
	d := c.data(`<get-config><source><` + ds + `/></source><filter type="subtree"><ha xmlns="urn:tandem:yang:tandem-ha"><config><heartbeat-interval/></config></ha></filter></get-config>`)
	if hb := find(d, "ha", "config", "heartbeat-interval"); hb != nil {
		return hb.Text
	}
	return ""
}

// Candidate edits, commit, discard, and the running datastore through
// :writable-running.
func TestEditCommitDiscard(t *testing.T) {
	f := newFixture(t)
	c := f.admin()
	before := heartbeat(t, c, "running")
	c.ok(strings.Replace(editMode, "%s", "250", 1))
	if got := heartbeat(t, c, "candidate"); got != "250" {
		t.Fatalf("candidate heartbeat = %q, want 250", got)
	}
	if got := heartbeat(t, c, "running"); got != before {
		t.Fatalf("running changed before commit: %q", got)
	}
	c.ok(`<commit/>`)
	if got := heartbeat(t, c, "running"); got != "250" {
		t.Fatalf("running heartbeat after commit = %q", got)
	}
	c.ok(strings.Replace(editMode, "%s", "300", 1))
	c.ok(`<discard-changes/>`)
	if got := heartbeat(t, c, "candidate"); got != "250" {
		t.Fatalf("candidate after discard = %q, want 250", got)
	}
	// :writable-running commits at once, with origin netconf.
	c.ok(`<edit-config><target><running/></target><config><ha xmlns="urn:tandem:yang:tandem-ha"><config><heartbeat-interval>400</heartbeat-interval></config></ha></config></edit-config>`)
	_, info := f.b.Store.Running()
	if got := heartbeat(t, c, "running"); got != "400" || info.Origin != "netconf" || info.Author != "admin" {
		t.Fatalf("running = %q, revision %+v", got, info)
	}
}

// The edit-config operations on a list: create, merge, replace, delete,
// remove, and their errors.
func TestEditOperations(t *testing.T) {
	f := newFixture(t)
	c := f.admin()
	iface := func(op, name, zone string) string {
		return `<edit-config><target><candidate/></target><config><interfaces xmlns="urn:tandem:yang:tandem-interfaces" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">
		  <interface nc:operation="` + op + `"><name>` + name + `</name>` + zone + `</interface></interfaces></config></edit-config>`
	}
	zone := func(z string) string { return `<config><zone>` + z + `</zone></config>` }
	get := func() *xmltree.Element {
		return c.data(`<get-config><source><candidate/></source><filter type="xpath" select="/if:interfaces" xmlns:if="urn:tandem:yang:tandem-interfaces"/></get-config>`)
	}
	zoneOf := func(name string) string {
		list := find(get(), "interfaces")
		if list == nil {
			return ""
		}
		for _, e := range list.Children {
			if text(e, "urn:tandem:yang:tandem-interfaces", "name") == name {
				if z := find(e, "config", "zone"); z != nil {
					return z.Text
				}
				return "(none)"
			}
		}
		return ""
	}
	c.ok(iface("create", "X5", zone("dmz")))
	if z := zoneOf("X5"); z != "dmz" {
		t.Fatalf("X5 zone = %q after create", z)
	}
	if errs := c.fail(iface("create", "X5", zone("dmz"))); errTag(errs[0]) != "data-exists" {
		t.Errorf("second create: %s", describe(errs[0]))
	} else if p := text(errs[0], baseNS, "error-path"); !strings.Contains(p, "[if:name='X5']") {
		t.Errorf("error-path %q does not name the entry", p)
	}
	c.ok(iface("merge", "X5", zone("wan")))
	if z := zoneOf("X5"); z != "wan" {
		t.Fatalf("X5 zone = %q after merge", z)
	}
	c.ok(iface("replace", "X5", ""))
	if z := zoneOf("X5"); z != "(none)" {
		t.Fatalf("X5 zone = %q after replace without zone", z)
	}
	c.ok(iface("delete", "X5", ""))
	if z := zoneOf("X5"); z != "" {
		t.Fatalf("X5 still there after delete (zone %q)", z)
	}
	if errs := c.fail(iface("delete", "X5", "")); errTag(errs[0]) != "data-missing" {
		t.Errorf("delete of missing entry: %s", describe(errs[0]))
	}
	c.ok(iface("remove", "X5", ""))
	// default-operation none with a merge below creates only that.
	c.ok(`<edit-config><target><candidate/></target><default-operation>none</default-operation><config>
	  <interfaces xmlns="urn:tandem:yang:tandem-interfaces" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">
	  <interface><name>X6</name><config nc:operation="merge"><zone>lan</zone></config></interface></interfaces></config></edit-config>`)
	if z := zoneOf("X6"); z != "lan" {
		t.Fatalf("X6 zone = %q", z)
	}
}

// A bad value is refused with invalid-value and the path of the leaf; an
// unknown element with unknown-element; a SPEC rule violation names the
// rule in error-app-tag.
func TestEditErrors(t *testing.T) {
	f := newFixture(t)
	c := f.admin()
	e := c.fail(strings.Replace(editMode, "%s", "fast", 1))[0]
	if errTag(e) != "invalid-value" || !strings.Contains(text(e, baseNS, "error-path"), "ha:heartbeat-interval") {
		t.Errorf("bad value: %s", describe(e))
	}
	e = c.fail(`<edit-config><target><candidate/></target><config><ha xmlns="urn:tandem:yang:tandem-ha"><bogus/></ha></config></edit-config>`)[0]
	if errTag(e) != "unknown-element" || text(find(e, "error-info"), baseNS, "bad-element") != "bogus" {
		t.Errorf("unknown element: %s", describe(e))
	}
	// SPEC: MODE-2 (stateful sync needs an HA mode), reported by rule.
	errs := c.fail(`<edit-config><target><candidate/></target><config><ha xmlns="urn:tandem:yang:tandem-ha"><config><stateful-sync>true</stateful-sync></config></ha></config></edit-config>`)
	found := false
	for _, e := range errs {
		found = found || text(e, baseNS, "error-app-tag") == "MODE-2" && strings.HasPrefix(text(e, baseNS, "error-path"), "/ha:ha")
	}
	if !found {
		t.Errorf("no MODE-2 error with a path: %v", describeAll(errs))
	}
	// test-option set stores it anyway; commit then refuses with the rule.
	c.ok(`<edit-config><target><candidate/></target><test-option>set</test-option><config><ha xmlns="urn:tandem:yang:tandem-ha"><config><stateful-sync>true</stateful-sync></config></ha></config></edit-config>`)
	errs = c.fail(`<commit/>`)
	if text(errs[0], baseNS, "error-app-tag") != "MODE-2" {
		t.Errorf("commit: %v", describeAll(errs))
	}
	c.ok(`<validate><source><running/></source></validate>`)
	if errs := c.fail(`<validate><source><candidate/></source></validate>`); text(errs[0], baseNS, "error-app-tag") != "MODE-2" {
		t.Errorf("validate: %v", describeAll(errs))
	}
	c.ok(`<discard-changes/>`)
	// Protocol errors.
	if e := c.fail(`<frobnicate/>`)[0]; errTag(e) != "operation-not-supported" {
		t.Errorf("unknown operation: %s", describe(e))
	}
	if e := c.fail(`<get-config/>`)[0]; errTag(e) != "missing-element" {
		t.Errorf("get-config without source: %s", describe(e))
	}
	if e := c.fail(`<delete-config><target><running/></target></delete-config>`)[0]; errTag(e) != "invalid-value" {
		t.Errorf("delete-config running: %s", describe(e))
	}
}

func describeAll(errs []*xmltree.Element) string {
	var out []string
	for _, e := range errs {
		out = append(out, describe(e))
	}
	return strings.Join(out, "\n")
}

// Locks: a second NETCONF session and a writer of another API (a store
// session such as REST's) are refused while a session holds the lock;
// ending the session releases it (RFC 6241 7.5).
func TestLocksAcrossSessionsAndAPIs(t *testing.T) {
	f := newFixture(t)
	a, b := f.admin(), f.admin()
	a.ok(`<lock><target><candidate/></target></lock>`)
	e := b.fail(`<lock><target><candidate/></target></lock>`)[0]
	if errTag(e) != "lock-denied" || text(find(e, "error-info"), baseNS, "session-id") != a.id {
		t.Errorf("second lock: %s", describe(e))
	}
	if e := b.fail(strings.Replace(editMode, "%s", "250", 1))[0]; errTag(e) != "in-use" {
		t.Errorf("edit under another's lock: %s", describe(e))
	}
	// Another API's session is refused too.
	if err := f.b.Store.Lock(store.Candidate, "rest:alice"); err == nil {
		t.Error("REST session took the candidate lock held by NETCONF")
	}
	// Monitoring shows the holder.
	d := b.data(`<get><filter type="subtree"><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><datastores/></netconf-state></filter></get>`)
	if !strings.Contains(describe(d), "<locked-by-session>"+a.id+"</locked-by-session>") {
		t.Errorf("monitoring does not show the lock: %s", describe(d))
	}
	a.ok(strings.Replace(editMode, "%s", "250", 1))
	a.ok(`<close-session/>`)
	waitFor(t, "the closed session's lock is released", func() bool {
		return f.b.Store.Lock(store.Candidate, "rest:alice") == nil
	})
	// The closed session's uncommitted change was discarded with it.
	if got := heartbeat(t, b, "candidate"); got == "250" {
		t.Error("candidate kept the change of a session that ended holding the lock")
	}
	// Now REST holds it: NETCONF is denied with session-id 0.
	e = b.fail(`<lock><target><candidate/></target></lock>`)[0]
	if errTag(e) != "lock-denied" || text(find(e, "error-info"), baseNS, "session-id") != "0" {
		t.Errorf("lock held by REST: %s", describe(e))
	}
	f.b.Store.EndSession("rest:alice")
	b.ok(`<lock><target><running/></target></lock>`)
	if e := b.fail(`<unlock><target><candidate/></target></unlock>`)[0]; errTag(e) != "operation-failed" {
		t.Errorf("unlock of an unlocked datastore: %s", describe(e))
	}
	b.ok(`<unlock><target><running/></target></unlock>`)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Confirmed commit 1.1: an unconfirmed commit rolls back at the timeout;
// a commit bound to its session is cancelled when the session ends;
// persist lets another session confirm with the persist-id.
func TestConfirmedCommit(t *testing.T) {
	f := newFixture(t)
	c := f.admin()
	orig := heartbeat(t, c, "running")
	c.ok(strings.Replace(editMode, "%s", "260", 1))
	c.ok(`<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>`)
	if got := heartbeat(t, c, "running"); got != "260" {
		t.Fatalf("running = %q during the confirmed commit", got)
	}
	waitFor(t, "the unconfirmed commit rolls back", func() bool { return heartbeat(t, c, "running") == orig })
	_, info := f.b.Store.Running()
	if info.Origin != store.OriginConfirmTimeout {
		t.Errorf("rollback revision origin %q", info.Origin)
	}
	// Bound to the session: another session may not confirm; closing the
	// issuing session cancels it.
	c.ok(strings.Replace(editMode, "%s", "270", 1))
	c.ok(`<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>`)
	other := f.admin()
	if e := other.fail(`<commit/>`)[0]; errTag(e) != "in-use" {
		t.Errorf("confirm from another session: %s", describe(e))
	}
	c.ok(`<close-session/>`)
	waitFor(t, "closing the session cancels its confirmed commit", func() bool { return heartbeat(t, other, "running") == orig })
	// Persist: survives the session, confirmed by persist-id elsewhere.
	p := f.admin()
	p.ok(strings.Replace(editMode, "%s", "280", 1))
	p.ok(`<commit><confirmed/><confirm-timeout>60</confirm-timeout><persist>tok-1</persist></commit>`)
	p.ok(`<close-session/>`)
	time.Sleep(100 * time.Millisecond)
	if got := heartbeat(t, other, "running"); got != "280" {
		t.Fatalf("persistent confirmed commit was rolled back at session end (running %q)", got)
	}
	if e := other.fail(`<commit><persist-id>wrong</persist-id></commit>`)[0]; errTag(e) != "invalid-value" {
		t.Errorf("wrong persist-id: %s", describe(e))
	}
	other.ok(`<commit><persist-id>tok-1</persist-id></commit>`)
	if _, info := f.b.Store.Running(); info.PendingConfirm {
		t.Error("still pending after the confirming commit")
	}
	// cancel-commit restores at once.
	other.ok(strings.Replace(editMode, "%s", "290", 1))
	other.ok(`<commit><confirmed/></commit>`)
	other.ok(`<cancel-commit/>`)
	if got := heartbeat(t, other, "running"); got != "280" {
		t.Errorf("running after cancel-commit = %q, want 280", got)
	}
	if e := other.fail(`<cancel-commit/>`)[0]; errTag(e) != "operation-failed" {
		t.Errorf("cancel-commit without pending commit: %s", describe(e))
	}
}

// SPEC: CFG-1 (a standby refuses configuration changes, reads work)
// Read-only users read but cannot write; a standby refuses every write
// with access-denied naming CFG-1.
func TestRolesAndStandbyRefusal(t *testing.T) {
	f := newFixture(t)
	admin := f.admin()
	hash, err := auth.HashPassword("ro-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	admin.ok(`<edit-config><target><running/></target><config><system xmlns="urn:tandem:yang:tandem-system"><users>
	  <user><name>admin</name><config><password-hash>` + mustHash(t, f.password) + `</password-hash><role>admin</role></config></user>
	  <user><name>ro</name><config><password-hash>` + hash + `</password-hash><role>read-only</role></config></user>
	  <user><name>op</name><config><role>operator</role><ssh-public-key>` + authorized + ` op@test</ssh-public-key></config></user>
	</users></system></config></edit-config>`)
	run, _ := f.b.Store.Running()
	f.b.Auth.Configure(run)
	// Public-key login with the configured key; the role comes with it.
	op, err := dialWith(t, f.addr, &ssh.ClientConfig{User: "op", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}, "1.1")
	if err != nil {
		t.Fatalf("public-key login: %v", err)
	}
	if e := op.fail(strings.Replace(editMode, "%s", "250", 1))[0]; errTag(e) != "access-denied" || !strings.Contains(text(e, baseNS, "error-message"), "operator") {
		t.Errorf("operator edit: %s", describe(e))
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	if _, err := dialWith(t, f.addr, &ssh.ClientConfig{User: "op", Auth: []ssh.AuthMethod{ssh.PublicKeys(otherSigner)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}, "1.1"); err == nil {
		t.Error("login with a key that is not the user's succeeded")
	}
	ro, err := f.dial("ro", "ro-secret-1", "1.1")
	if err != nil {
		t.Fatal(err)
	}
	ro.data(`<get-config><source><running/></source></get-config>`)
	for _, op := range []string{strings.Replace(editMode, "%s", "250", 1), `<lock><target><candidate/></target></lock>`, `<commit/>`} {
		if e := ro.fail(op)[0]; errTag(e) != "access-denied" {
			t.Errorf("read-only %s: %s", op[:20], describe(e))
		}
	}
	if _, err := f.dial("ro", "wrong", "1.1"); err == nil {
		t.Error("login with a wrong password succeeded")
	}
	// Write-only secrets are never returned.
	admin.ok(`<edit-config><target><running/></target><config><ha xmlns="urn:tandem:yang:tandem-ha"><config><pre-shared-key>very-secret-key</pre-shared-key></config></ha></config></edit-config>`)
	if strings.Contains(describe(admin.data(`<get-config><source><running/></source></get-config>`)), "very-secret-key") {
		t.Error("get-config returned the pre-shared key")
	}
	*f.standby = true
	e := admin.fail(strings.Replace(editMode, "%s", "250", 1))[0]
	if errTag(e) != "access-denied" || text(e, baseNS, "error-app-tag") != "CFG-1" || !strings.Contains(text(e, baseNS, "error-message"), "standby") {
		t.Errorf("standby edit: %s", describe(e))
	}
	admin.data(`<get><filter type="subtree"><ha xmlns="urn:tandem:yang:tandem-ha"/></filter></get>`)
}

func mustHash(t *testing.T, pw string) string {
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// get merges the running configuration, the state tree, monitoring and
// the YANG library; filters select by subtree and XPath; with-defaults
// trims and reports defaults (tagged).
func TestGetFiltersAndDefaults(t *testing.T) {
	f := newFixture(t)
	c := f.admin()
	if err := f.b.Tree.Update("/ha/state/role", "standalone"); err != nil {
		t.Fatal(err)
	}
	d := c.data(`<get/>`)
	for _, p := range [][]string{{"ha", "state", "role"}, {"ha", "config"}, {"netconf-state", "sessions", "session"}, {"yang-library", "module-set"}} {
		if find(d, p...) == nil {
			t.Errorf("get lacks %v", p)
		}
	}
	d = c.data(`<get><filter type="xpath" xmlns:ha="urn:tandem:yang:tandem-ha" select="/ha:ha/ha:state/ha:role"/></get>`)
	if got := describe(d); !strings.Contains(got, "<role>standalone</role>") || strings.Contains(got, "<config>") {
		t.Errorf("xpath filter: %s", got)
	}
	d = c.data(`<get><filter type="subtree"><yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"><module-set><module><name>tandem-ha</name></module></module-set></yang-library></filter></get>`)
	if got := describe(d); !strings.Contains(got, "urn:tandem:yang:tandem-ha") || strings.Contains(got, "tandem-cluster") {
		t.Errorf("subtree content match: %s", got)
	}
	// with-defaults: the initial configuration sets heartbeat-interval
	// to its default.
	sel := `<filter type="subtree"><ha xmlns="urn:tandem:yang:tandem-ha"><config/></ha></filter>`
	trimmed := describe(c.data(`<get-config><source><running/></source>` + sel + `<with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">trim</with-defaults></get-config>`))
	if strings.Contains(trimmed, "<heartbeat-interval>") {
		t.Errorf("trim kept a default: %s", trimmed)
	}
	tagged := describe(c.data(`<get-config><source><running/></source>` + sel + `<with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">report-all-tagged</with-defaults></get-config>`))
	if !strings.Contains(tagged, `default="true"`) {
		t.Errorf("report-all-tagged has no tagged default: %s", tagged)
	}
	if e := c.fail(`<get><filter type="xpath" select="count(/*)"/></get>`)[0]; errTag(e) != "invalid-value" {
		t.Errorf("non-node-set xpath: %s", describe(e))
	}
}

// get-schema returns the module text; kill-session ends another session
// and releases its locks.
func TestGetSchemaAndKillSession(t *testing.T) {
	f := newFixture(t)
	c := f.admin()
	r := c.rpc(`<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><identifier>tandem-ha</identifier><format>yang</format></get-schema>`)
	d := r.Child(monNS, "data")
	if d == nil || !strings.HasPrefix(strings.TrimSpace(d.Text), "module tandem-ha {") {
		t.Errorf("get-schema: %.100s", d.Text)
	}
	if e := c.fail(`<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><identifier>nope</identifier></get-schema>`)[0]; errTag(e) != "invalid-value" {
		t.Errorf("unknown schema: %s", describe(e))
	}
	victim := f.admin()
	victim.ok(`<lock><target><running/></target></lock>`)
	c.ok(`<kill-session><session-id>` + victim.id + `</session-id></kill-session>`)
	c.ok(`<lock><target><running/></target></lock>`)
	if e := c.fail(`<kill-session><session-id>` + c.id + `</session-id></kill-session>`)[0]; errTag(e) != "invalid-value" {
		t.Errorf("kill own session: %s", describe(e))
	}
}

// SPEC: OBS-2
// Notifications carry the HA event log, replayed from startTime and live.
func TestNotifications(t *testing.T) {
	f := newFixture(t)
	if _, err := f.b.Events.Append(telemetry.Event{Type: "peer-lost", Severity: "warning", Message: "old event"}); err != nil {
		t.Fatal(err)
	}
	c := f.admin()
	c.ok(`<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><startTime>2000-01-01T00:00:00Z</startTime></create-subscription>`)
	next := func() string {
		select {
		case n := <-c.notifs:
			return string(n)
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
		}
		return ""
	}
	if n := next(); !strings.Contains(n, "old event") {
		t.Errorf("replay: %s", n)
	}
	if n := next(); !strings.Contains(n, "replayComplete") {
		t.Errorf("after replay: %s", n)
	}
	if _, err := f.b.Events.Append(telemetry.Event{Type: "role-change", Message: "now active", Attrs: map[string]string{"role": "active"}}); err != nil {
		t.Fatal(err)
	}
	if n := next(); !strings.Contains(n, "<type>role-change</type>") || !strings.Contains(n, "<eventTime>") {
		t.Errorf("live: %s", n)
	}
	// Interleave: rpcs still work during the subscription.
	c.data(`<get-config><source><running/></source></get-config>`)
	if e := c.fail(`<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>`)[0]; errTag(e) != "operation-failed" {
		t.Errorf("second subscription: %s", describe(e))
	}
}

// SPEC: CLU-11
// tandem-operations rpcs go through Backend.Operate: validate answers,
// the commit rpc commits with its comment.
func TestTandemOperations(t *testing.T) {
	f := newFixture(t)
	c := f.admin()
	c.ok(strings.Replace(editMode, "%s", "222", 1))
	r := c.rpc(`<commit xmlns="urn:tandem:yang:tandem-operations"><comment>via rpc</comment></commit>`)
	if rev := text(r, "urn:tandem:yang:tandem-operations", "revision"); rev == "" {
		t.Fatalf("commit rpc output: %s", describe(r))
	}
	if _, info := f.b.Store.Running(); info.Comment != "via rpc" || info.Origin != "netconf" {
		t.Errorf("revision %+v", info)
	}
	if e := c.fail(`<rollback xmlns="urn:tandem:yang:tandem-operations"><n>x</n></rollback>`)[0]; errTag(e) != "invalid-value" {
		t.Errorf("bad rpc input: %s", describe(e))
	}
	*f.standby = true
	e := c.fail(`<rollback xmlns="urn:tandem:yang:tandem-operations"><n>1</n></rollback>`)[0]
	if errTag(e) != "access-denied" || text(e, baseNS, "error-app-tag") != "CLU-11" {
		t.Errorf("rollback on a standby: %s", describe(e))
	}
}

// The host key is created once and kept: a second start presents the
// same key.
func TestHostKeyIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "ssh_host_ed25519_key")
	a, err := loadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if ssh.FingerprintSHA256(a.PublicKey()) != ssh.FingerprintSHA256(b.PublicKey()) {
		t.Fatal("host key changed between starts")
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("host key file mode: %v %v", st.Mode(), err)
	}
}
