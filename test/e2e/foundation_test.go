package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A committed configuration reaches the kernel through the reconciler and
// the lab platform plugin, and the plugin's condition names the revision.
func TestCommitIsAppliedToTheKernel(t *testing.T) {
	u := startUnit(t, "")
	u.mustCtl("config", "set", "/interfaces/interface[name=X0]/config/ipv4-address", `["192.0.2.1/24"]`)
	u.mustCtl("config", "set", "/interfaces/interface[name=X0]/config/ipv6-address", `["2001:db8::1/64"]`)
	u.mustCtl("config", "set", "/interfaces/interface[name=X1]/config/enabled", "false")
	if diff := u.mustCtl("config", "diff"); !strings.Contains(diff, "+ /interfaces/interface[name=X0]/config/ipv4-address") {
		t.Errorf("diff does not show the change:\n%s", diff)
	}
	out := u.mustCtl("config", "commit", "-m", "lan address")
	if !strings.Contains(out, "running revision 2") {
		t.Fatalf("commit said %q", out)
	}
	u.eventually("X0 carries its addresses", 10*time.Second, func() bool {
		return u.hasAddr("x0", "192.0.2.1/24") && u.hasAddr("x0", "2001:db8::1/64")
	})
	if !u.adminUp("x0") || u.adminUp("x1") {
		t.Errorf("admin state: x0 up=%v (want true), x1 up=%v (want false)", u.adminUp("x0"), u.adminUp("x1"))
	}
	u.eventually("the plugin reports revision 2 applied", 5*time.Second, func() bool {
		p := u.platform()
		return p.AppliedRevision == 2 && p.LastError == "" && p.AppliedRole == "standalone"
	})
	hist := u.mustCtl("config", "history")
	if !strings.Contains(hist, "lan address") || !strings.Contains(hist, "cli") {
		t.Errorf("history lacks the commit's comment or origin:\n%s", hist)
	}
	state := u.mustCtl("state", "/system/plugins")
	if !strings.Contains(state, `"applied-revision": "2"`) && !strings.Contains(state, `"applied-revision": 2`) {
		t.Errorf("state tree lacks the applied revision:\n%s", state)
	}
}

// Reconciling the same intent again makes no kernel change: the plugin
// reports zero changes and the kernel emits no address or link
// notification while periodic resyncs run.
func TestReconcileTwiceChangesNothing(t *testing.T) {
	u := startUnit(t, `{
	  "tandem-interfaces:interfaces": {"interface": [
	    {"name": "X0", "config": {"name": "X0", "ipv4-address": ["192.0.2.1/24"]}},
	    {"name": "X1", "config": {"name": "X1", "ipv4-address": ["198.51.100.1/24"], "ipv6-address": ["2001:db8:1::1/64"]}}
	  ]},
	  "tandem-system:system": {"config": {"reconcile-interval": 1}}
	}`)
	u.eventually("addresses applied", 10*time.Second, func() bool { return u.hasAddr("x1", "198.51.100.1/24") })
	time.Sleep(300 * time.Millisecond)
	before := u.platform()

	mon := exec.Command("ip", "-n", u.ns, "monitor", "address", "link")
	stdout, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			events = append(events, sc.Text())
			mu.Unlock()
		}
	}()
	time.Sleep(3500 * time.Millisecond) // three resyncs at 1 s
	_ = mon.Process.Kill()
	_ = mon.Wait()

	after := u.platform()
	if !after.LastApplied.After(before.LastApplied) {
		t.Fatalf("no resync happened: last applied %s then %s", before.LastApplied, after.LastApplied)
	}
	changes := u.mustCtl("state", "/system/plugins/plugin[name=lab]/state/changes")
	mu.Lock()
	defer mu.Unlock()
	if len(events) > 0 {
		t.Errorf("re-applying the same intent changed the kernel: %q", events)
	}
	t.Logf("changes counter after resyncs: %s", strings.TrimSpace(changes))
}

// Drift in the kernel (an address removed by hand) is corrected by the
// periodic reconcile.
func TestDriftIsCorrected(t *testing.T) {
	u := startUnit(t, `{
	  "tandem-interfaces:interfaces": {"interface": [
	    {"name": "X0", "config": {"name": "X0", "ipv4-address": ["192.0.2.1/24"]}}
	  ]},
	  "tandem-system:system": {"config": {"reconcile-interval": 1}}
	}`)
	u.eventually("address applied", 10*time.Second, func() bool { return u.hasAddr("x0", "192.0.2.1/24") })
	run(t, "ip", "-n", u.ns, "addr", "del", "192.0.2.1/24", "dev", "x0")
	run(t, "ip", "-n", u.ns, "addr", "add", "203.0.113.9/24", "dev", "x0")
	u.eventually("drift corrected", 5*time.Second, func() bool {
		return u.hasAddr("x0", "192.0.2.1/24") && !u.hasAddr("x0", "203.0.113.9/24")
	})
}

// A platform plugin killed with SIGKILL is restarted by the host and
// re-given its intent; the daemon answers throughout.
func TestPluginKilledIsRestartedAndIntentReapplied(t *testing.T) {
	u := startUnit(t, `{
	  "tandem-interfaces:interfaces": {"interface": [
	    {"name": "X0", "config": {"name": "X0", "ipv4-address": ["192.0.2.1/24"]}}
	  ]},
	  "tandem-system:system": {"config": {"reconcile-interval": 3600}}
	}`)
	u.eventually("address applied", 10*time.Second, func() bool { return u.hasAddr("x0", "192.0.2.1/24") })
	old := u.platform()
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill plugin %d: %v", old.PID, err)
	}
	// Drift while the plugin is down: only a re-applied intent repairs it,
	// since the periodic resync is an hour away.
	run(t, "ip", "-n", u.ns, "addr", "del", "192.0.2.1/24", "dev", "x0")
	u.eventually("plugin restarted with a new process", 15*time.Second, func() bool {
		p := u.platform() // the daemon keeps answering meanwhile
		return p.State == "running" && p.PID != old.PID && p.Restarts == old.Restarts+1
	})
	u.eventually("intent re-applied after restart", 10*time.Second, func() bool { return u.hasAddr("x0", "192.0.2.1/24") })
	events := u.mustCtl("events")
	if !strings.Contains(events, "plugin-restarted") {
		t.Errorf("event log lacks plugin-restarted:\n%s", events)
	}
}

// A refused commit lists every problem with path and rule, and changes
// nothing: the running revision and the kernel stay as they were.
func TestRefusedCommitChangesNothing(t *testing.T) {
	u := startUnit(t, "")
	u.mustCtl("config", "set", "/platform/config/model", "soho-w")
	u.mustCtl("config", "set", "/ha/config/mode", "active-standby")
	u.mustCtl("config", "set", "/interfaces/interface[name=X0]/config/ipv4-address", `["192.0.2.1/24"]`)
	u.mustCtl("config", "set", "/interfaces/interface[name=X0]/config/bypass", "true")
	out, err := u.ctl("config", "commit")
	if err == nil {
		t.Fatalf("commit of an invalid configuration succeeded:\n%s", out)
	}
	for _, want := range []string{"PLAT-1", "PLAT-4", "/interfaces/interface[name=X0]/config/bypass", "fix:"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal lacks %q:\n%s", want, out)
		}
	}
	if st := u.status(); st.Running.ID != 1 || !st.CandidateDirty {
		t.Errorf("after a refused commit: running revision %d (want 1), candidate dirty %v (want true)", st.Running.ID, st.CandidateDirty)
	}
	time.Sleep(300 * time.Millisecond)
	if u.hasAddr("x0", "192.0.2.1/24") {
		t.Errorf("the refused configuration reached the kernel")
	}
	u.mustCtl("config", "discard")
	if st := u.status(); st.CandidateDirty {
		t.Errorf("candidate still dirty after discard")
	}
}

// A confirmed commit that is not confirmed in time is rolled back, and
// the rollback reaches the kernel; a confirmed one stays.
func TestConfirmedCommitRollsBackInTheKernel(t *testing.T) {
	u := startUnit(t, "")
	u.mustCtl("config", "set", "/interfaces/interface[name=X0]/config/ipv4-address", `["192.0.2.1/24"]`)
	out := u.mustCtl("config", "commit", "-confirm", "2s", "-m", "try")
	if !strings.Contains(out, "confirm within") {
		t.Errorf("commit did not announce the confirmation deadline: %q", out)
	}
	u.eventually("tentative address applied", 10*time.Second, func() bool { return u.hasAddr("x0", "192.0.2.1/24") })
	u.eventually("rolled back and removed from the kernel", 15*time.Second, func() bool { return !u.hasAddr("x0", "192.0.2.1/24") })
	if events := u.mustCtl("events"); !strings.Contains(events, "commit-rolled-back") {
		t.Errorf("event log lacks the automatic rollback:\n%s", events)
	}

	u.mustCtl("config", "set", "/interfaces/interface[name=X0]/config/ipv4-address", `["192.0.2.7/24"]`)
	u.mustCtl("config", "commit", "-confirm", "2s")
	u.mustCtl("config", "confirm")
	time.Sleep(3 * time.Second)
	if !u.hasAddr("x0", "192.0.2.7/24") {
		t.Errorf("a confirmed commit was rolled back")
	}
	if st := u.status(); st.Running.PendingConfirm {
		t.Errorf("still pending after confirm")
	}
}

// Carrier loss on a port is reported from the plugin's netlink
// subscription into the state tree and the event log.
func TestLinkDownIsObserved(t *testing.T) {
	u := startUnit(t, `{"tandem-interfaces:interfaces": {"interface": [{"name": "X1", "config": {"name": "X1"}}]}}`)
	u.eventually("X1 reported up", 10*time.Second, func() bool {
		out, err := u.client.State(context.Background(), "/interfaces/interface[name=X1]/state/oper-status")
		return err == nil && strings.Contains(string(out), `"up"`)
	})
	run(t, "ip", "-n", u.ns, "link", "set", "p1", "down")
	u.eventually("X1 reported down", 5*time.Second, func() bool {
		out, err := u.client.State(context.Background(), "/interfaces/interface[name=X1]/state/oper-status")
		return err == nil && strings.Contains(string(out), `"down"`)
	})
	if events := u.mustCtl("events"); !strings.Contains(events, "link-down") {
		t.Errorf("event log lacks link-down:\n%s", events)
	}
}

// Rollback N makes an older configuration running as a new revision.
func TestRollbackRestoresOlderConfiguration(t *testing.T) {
	u := startUnit(t, "")
	u.mustCtl("config", "set", "/interfaces/interface[name=X0]/config/ipv4-address", `["192.0.2.1/24"]`)
	u.mustCtl("config", "commit", "-m", "one")
	u.mustCtl("config", "set", "/interfaces/interface[name=X0]/config/ipv4-address", `["192.0.2.2/24"]`)
	u.mustCtl("config", "commit", "-m", "two")
	u.eventually("second address applied", 10*time.Second, func() bool { return u.hasAddr("x0", "192.0.2.2/24") })
	if out := u.mustCtl("config", "rollback", "1", "-m", "back to one"); !strings.Contains(out, "running revision 4") {
		t.Errorf("rollback said %q", out)
	}
	u.eventually("first address back", 10*time.Second, func() bool {
		return u.hasAddr("x0", "192.0.2.1/24") && !u.hasAddr("x0", "192.0.2.2/24")
	})
}
