package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// pairLab is a lab built for one test, with a client per unit.
type pairLab struct {
	t        *testing.T
	name     string
	dir      string
	fw1, fw2 *unit
	clients  map[string]*local.Client
}

var labCount int

// startPair builds a lab (tandemctl lab up) and waits until the pair has
// elected its active unit.
func startPair(t *testing.T) *pairLab {
	t.Helper()
	labCount++
	l := &pairLab{t: t, name: fmt.Sprintf("e2p%d-%d", os.Getpid()%100000, labCount), dir: filepath.Join(t.TempDir(), "lab")}
	if out, err := labCtl(t, l.name, l.dir, "up", "-bin", bin); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, u := range []string{"fw1", "fw2"} {
				if b, err := os.ReadFile(filepath.Join(l.dir, u+".log")); err == nil {
					t.Logf("%s log:\n%s", u, b)
				}
			}
		}
		if out, err := labCtl(t, l.name, l.dir, "down"); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	l.fw1 = &unit{t: t, ns: l.name + "-fw1"}
	l.fw2 = &unit{t: t, ns: l.name + "-fw2"}
	l.clients = map[string]*local.Client{
		"fw1": local.NewClient(filepath.Join(l.dir, "fw1.sock")),
		"fw2": local.NewClient(filepath.Join(l.dir, "fw2.sock")),
	}
	l.fw1.eventually("the pair elects fw1 (primary, equal quality) active", 15*time.Second, func() bool {
		return l.role("fw1") == "active" && l.role("fw2") == "standby"
	})
	return l
}

// role asks a unit for its role; "" when it does not answer.
func (l *pairLab) role(unitName string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := l.clients[unitName].Status(ctx)
	if err != nil {
		return ""
	}
	return st.Role
}

// SPEC: ROLE-1
// SPEC: ROLE-2
// SPEC: TKO-1
// Two units started together elect one active, the primary when qualities
// are equal; only the active holds the virtual addresses, both hold their
// own monitoring addresses.
func TestPairElectsOneActive(t *testing.T) {
	l := startPair(t)
	l.fw1.eventually("fw1 holds the virtual addresses", 5*time.Second, func() bool {
		return l.fw1.hasAddr("x0", "192.0.2.1/24") && l.fw1.hasAddr("x1", "198.51.100.1/24")
	})
	if l.fw2.hasAddr("x0", "192.0.2.1/24") || l.fw2.hasAddr("x1", "198.51.100.1/24") {
		t.Errorf("the standby holds a virtual address")
	}
	if !l.fw2.hasAddr("x0", "192.0.2.3/24") {
		t.Errorf("the standby lost its own monitoring address")
	}
}

// SPEC: DET-1
// SPEC: DET-7
// Power loss of the active (kill -9 and every port down) is detected by
// missed heartbeats alone; the standby takes the role and the virtual
// addresses.
func TestKillActiveFailsOver(t *testing.T) {
	l := startPair(t)
	l.fw1.eventually("fw1 holds the virtual address", 5*time.Second, func() bool { return l.fw1.hasAddr("x0", "192.0.2.1/24") })
	start := time.Now()
	if out, err := labCtl(t, l.name, l.dir, "kill", "fw1"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	l.fw2.eventually("fw2 takes over the virtual addresses", 5*time.Second, func() bool {
		return l.fw2.hasAddr("x0", "192.0.2.1/24") && l.fw2.hasAddr("x1", "198.51.100.1/24")
	})
	t.Logf("virtual addresses on fw2 %s after the kill (100 ms x 3 heartbeats)", time.Since(start).Round(time.Millisecond))
	if r := l.role("fw2"); r != "active" {
		t.Errorf("fw2 role %q after takeover, want active", r)
	}
}

// SPEC: DET-2
// Losing one heartbeat path (the HA control link) changes no role and
// never makes both units active: the backup path carries the heartbeats.
func TestOnePathCutNoFailover(t *testing.T) {
	l := startPair(t)
	if out, err := labCtl(t, l.name, l.dir, "cut", "fw2:ha"); err != nil {
		t.Fatalf("cut: %v\n%s", err, out)
	}
	deadline := time.Now().Add(2 * time.Second) // more than 6 heartbeat timeouts
	for time.Now().Before(deadline) {
		r1, r2 := l.role("fw1"), l.role("fw2")
		if r1 != "active" || r2 != "standby" {
			t.Fatalf("roles changed with one path cut: fw1 %s, fw2 %s", r1, r2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	events, err := l.clients["fw2"].Events(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	sawPathDown := false
	for _, e := range events {
		sawPathDown = sawPathDown || e.Type == "path-down"
	}
	if !sawPathDown {
		t.Errorf("fw2 logged no path-down event for the cut control link")
	}
	if out, err := labCtl(t, l.name, l.dir, "restore", "fw2:ha"); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
}

// SPEC: DET-3
// SPEC: DET-6
// A monitored link (the LAN) down on the active while the standby's is up
// fails over to the standby; when the cable is back the pair stays as it
// is (preempt is off).
func TestMonitoredLinkDownFailsOver(t *testing.T) {
	l := startPair(t)
	if out, err := labCtl(t, l.name, l.dir, "cut", "fw1:lan"); err != nil {
		t.Fatalf("cut: %v\n%s", err, out)
	}
	l.fw2.eventually("fw2 takes over for fw1's lost LAN link", 5*time.Second, func() bool {
		return l.role("fw2") == "active" && l.role("fw1") == "standby" && l.fw2.hasAddr("x0", "192.0.2.1/24")
	})
	if out, err := labCtl(t, l.name, l.dir, "restore", "fw1:lan"); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	time.Sleep(time.Second)
	if r1, r2 := l.role("fw1"), l.role("fw2"); r1 != "standby" || r2 != "active" {
		t.Errorf("after the cable is back (preempt off): fw1 %s, fw2 %s; want standby, active", r1, r2)
	}
}

// haCtl runs `tandemctl ha ...` against one unit of the lab.
func (l *pairLab) haCtl(unitName string, args ...string) string {
	l.t.Helper()
	full := append([]string{"-socket", filepath.Join(l.dir, unitName+".sock"), "ha"}, args...)
	out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("tandemctl ha %v on %s: %v\n%s", args, unitName, err, out)
	}
	return string(out)
}

// SPEC: ROLE-4
// SPEC: DET-8
// Forced standby hands the role over and shows in status; reset returns
// to automatic without a switch (preempt off); an admin failover moves
// the role back. Status shows both members and each path's RTT.
func TestForcedStatusAndAdminFailover(t *testing.T) {
	l := startPair(t)
	l.haCtl("fw1", "force-standby")
	l.fw2.eventually("fw2 active after fw1 is forced standby", 5*time.Second, func() bool {
		return l.role("fw2") == "active" && l.role("fw1") == "standby"
	})
	var st ha.Status
	if err := json.Unmarshal([]byte(l.haCtl("fw1", "status", "-json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Self.Forced != "standby" || st.Peer == nil || st.Peer.Role != "active" || st.Peer.Serial != "LAB-FW2" {
		t.Errorf("status after force-standby: self %+v peer %+v", st.Self, st.Peer)
	}
	for _, p := range st.Paths {
		if !p.Up || p.RTT <= 0 || p.RTT > time.Second {
			t.Errorf("path %s: up %v, rtt %v; want up with a measured RTT", p.Name, p.Up, p.RTT)
		}
	}
	l.haCtl("fw1", "reset")
	time.Sleep(time.Second)
	if r := l.role("fw2"); r != "active" {
		t.Errorf("reset switched the pair back without preempt: fw2 %s", r)
	}
	l.haCtl("fw2", "failover")
	l.fw1.eventually("fw1 active again after an admin failover on fw2", 5*time.Second, func() bool {
		return l.role("fw1") == "active" && l.role("fw2") == "standby"
	})
	text := l.haCtl("fw1", "status")
	for _, want := range []string{"THIS UNIT", "PEER", "LAB-FW2", "control", "backup", "RTT"} {
		if !strings.Contains(text, want) {
			t.Errorf("ha status lacks %q:\n%s", want, text)
		}
	}
}

// SPEC: CFG-1
// A standby refuses configuration changes, naming the active to use; the
// active accepts them.
func TestStandbyRefusesConfiguration(t *testing.T) {
	l := startPair(t)
	ctl := func(unitName string, args ...string) (string, error) {
		full := append([]string{"-socket", filepath.Join(l.dir, unitName+".sock"), "config"}, args...)
		out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput()
		return string(out), err
	}
	out, err := ctl("fw2", "set", "/interfaces/interface[name=X0]/config/description", "lan")
	if err == nil || !strings.Contains(out, "standby") || !strings.Contains(out, "LAB-FW1") || !strings.Contains(out, "CFG-1") {
		t.Errorf("the standby accepted a change or said too little: %v\n%s", err, out)
	}
	if out, err := ctl("fw2", "commit"); err == nil {
		t.Errorf("the standby accepted a commit:\n%s", out)
	}
	if out, err := ctl("fw1", "set", "/interfaces/interface[name=X0]/config/description", "lan"); err != nil {
		t.Fatalf("the active refused a change: %v\n%s", err, out)
	}
	if out, err := ctl("fw1", "commit", "-m", "on the active"); err != nil || !strings.Contains(out, "running revision 2") {
		t.Errorf("commit on the active: %v\n%s", err, out)
	}
}

// SPEC: CFG-2
// SPEC: CFG-4
// A revision committed on the active reaches the standby by itself, as a
// revision of origin sync; the active reports the standby in sync.
func TestConfigurationSyncsToTheStandby(t *testing.T) {
	l := startPair(t)
	ctl := func(unitName string, args ...string) string {
		full := append([]string{"-socket", filepath.Join(l.dir, unitName+".sock")}, args...)
		out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput()
		if err != nil {
			t.Fatalf("tandemctl %v on %s: %v\n%s", args, unitName, err, out)
		}
		return string(out)
	}
	ctl("fw1", "config", "set", "/interfaces/interface[name=X0]/config/description", "inside")
	ctl("fw1", "config", "commit", "-m", "describe the LAN")
	l.fw2.eventually("the standby holds the new description", 10*time.Second, func() bool {
		return strings.Contains(ctl("fw2", "config", "show"), `"inside"`)
	})
	if hist := ctl("fw2", "config", "history"); !strings.Contains(hist, "sync") || !strings.Contains(hist, "LAB-FW1") {
		t.Errorf("standby history lacks a sync revision from LAB-FW1:\n%s", hist)
	}
	l.fw1.eventually("the active reports the standby in sync", 10*time.Second, func() bool {
		out := ctl("fw1", "state", "/ha/devices/device[serial-number=LAB-FW2]/state/config-in-sync")
		return strings.Contains(out, "true")
	})
	if events := ctl("fw1", "events"); !strings.Contains(events, "config-sync") {
		t.Errorf("the active logged no config-sync event:\n%s", events)
	}
}

// SPEC: OBS-3
// SPEC: OBS-2
// An HA status change is delivered to the configured webhook: after the
// active dies, the survivor posts its role change.
func TestRoleChangeAlertReachesTheWebhook(t *testing.T) {
	l := startPair(t)
	got := make(chan map[string]any, 16)
	var ln net.Listener
	if err := topo.InNetns(l.name+"-client", func() (err error) { ln, err = net.Listen("tcp", "192.0.2.10:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if json.NewDecoder(r.Body).Decode(&v) == nil {
			got <- v
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	ctl := func(args ...string) {
		full := append([]string{"-socket", filepath.Join(l.dir, "fw1.sock"), "config"}, args...)
		if out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput(); err != nil {
			t.Fatalf("tandemctl %v: %v\n%s", args, err, out)
		}
	}
	ctl("set", "/system/config/alert-webhook", "http://192.0.2.10:8080/alerts")
	ctl("commit", "-m", "alerts")
	l.fw2.eventually("the webhook reaches the standby by config sync", 10*time.Second, func() bool {
		out, err := exec.Command(filepath.Join(bin, "tandemctl"), "-socket", filepath.Join(l.dir, "fw2.sock"), "config", "show").CombinedOutput()
		return err == nil && strings.Contains(string(out), "alert-webhook")
	})
	if out, err := labCtl(t, l.name, l.dir, "kill", "fw1"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case a := <-got:
			if a["unit"] == "LAB-FW2" && a["type"] == "role-change" && strings.Contains(fmt.Sprint(a["message"]), "active") {
				return
			}
		case <-deadline:
			t.Fatal("no role-change alert from LAB-FW2 reached the webhook")
		}
	}
}

// SPEC: DET-4
// Both units probe the client from their own monitoring address. When
// only the active's probes go unanswered the pair fails over to the unit
// that still reaches the target; when both go unanswered nothing moves.
func TestProbeFailureOnTheActiveFailsOver(t *testing.T) {
	l := startPair(t)
	ctl := func(args ...string) {
		full := append([]string{"-socket", filepath.Join(l.dir, "fw1.sock"), "config"}, args...)
		if out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput(); err != nil {
			t.Fatalf("tandemctl %v: %v\n%s", args, err, out)
		}
	}
	mon := "/monitoring/interfaces/interface[name=X0]/ipv4/config/"
	ctl("set", mon+"logical-probe", "true")
	ctl("set", mon+"probe-address", "192.0.2.10")
	ctl("set", "/monitoring/config/probe-interval", "1")
	ctl("set", "/monitoring/config/probe-timeout", "300")
	ctl("set", "/monitoring/config/probe-loss-threshold", "2")
	ctl("commit", "-m", "probe the client")
	probeOK := func(unitName string) bool {
		out, err := l.clients[unitName].State(context.Background(), "/monitoring/interfaces/interface[name=X0]/state/probe-ok")
		return err == nil && strings.Contains(string(out), "true")
	}
	l.fw1.eventually("both units reach the probe target", 15*time.Second, func() bool { return probeOK("fw1") && probeOK("fw2") })

	drop := func(rule string) {
		cmd := exec.Command("ip", "netns", "exec", l.name+"-client", "nft", "-f", "-")
		cmd.Stdin = strings.NewReader("table inet probe_test {\n chain input {\n  type filter hook input priority filter;\n  " + rule + "\n }\n}\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v\n%s", err, out)
		}
	}
	drop("ip saddr 192.0.2.2 icmp type echo-request drop") // fw1's monitoring address only
	l.fw2.eventually("fw2 takes over: only the active lost the target", 15*time.Second, func() bool {
		return l.role("fw2") == "active" && l.role("fw1") == "standby"
	})
	drop("ip saddr 192.0.2.3 icmp type echo-request drop") // now both fail
	l.fw2.eventually("fw2 sees its own probe fail too", 15*time.Second, func() bool { return !probeOK("fw2") })
	time.Sleep(3 * time.Second)
	if r1, r2 := l.role("fw1"), l.role("fw2"); r1 != "standby" || r2 != "active" {
		t.Errorf("with the target unreachable from both, the pair moved: fw1 %s, fw2 %s", r1, r2)
	}
}

// SPEC: CFG-3
// SPEC: CFG-4
// The sync path can be tested, the members' configurations compared, and
// a complete sync run on request from the active (not from the standby).
func TestSyncOperations(t *testing.T) {
	l := startPair(t)
	ha := func(unitName string, args ...string) (string, error) {
		full := append([]string{"-socket", filepath.Join(l.dir, unitName+".sock"), "ha"}, args...)
		out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput()
		return string(out), err
	}
	l.fw1.eventually("the members report being in sync", 10*time.Second, func() bool {
		out, err := ha("fw1", "sync-test")
		return err == nil && strings.Contains(out, "IN SYNC") && strings.Contains(out, "LAB-FW2")
	})
	if out, err := ha("fw2", "diff"); err != nil || !strings.Contains(out, "same configuration") {
		t.Errorf("ha diff on the standby: %v\n%s", err, out)
	}
	if out, err := ha("fw1", "sync-settings"); err != nil || !strings.Contains(out, "standby") {
		t.Errorf("ha sync-settings on the active: %v\n%s", err, out)
	}
	if out, err := ha("fw2", "sync-settings"); err == nil || !strings.Contains(out, "active") {
		t.Errorf("ha sync-settings on the standby was not refused: %v\n%s", err, out)
	}
}

// SPEC: SEC-1
// The pre-shared key is changed in place on the active: the standby gets
// it by config sync, heartbeats move to it, and at no moment does either
// unit stop hearing the other: no role changes, never two actives.
func TestPreSharedKeyChangesInPlace(t *testing.T) {
	l := startPair(t)
	ctl := func(args ...string) {
		full := append([]string{"-socket", filepath.Join(l.dir, "fw1.sock"), "config"}, args...)
		if out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput(); err != nil {
			t.Fatalf("tandemctl %v: %v\n%s", args, err, out)
		}
	}
	ctl("set", "/ha/config/pre-shared-key", "a brand new pair key")
	ctl("commit", "-m", "new key")
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if r1, r2 := l.role("fw1"), l.role("fw2"); r1 != "active" || r2 != "standby" {
			t.Fatalf("roles moved during the key change: fw1 %s, fw2 %s", r1, r2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	events, err := l.clients["fw1"].Events(context.Background(), 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	promoted := false
	for _, e := range events {
		promoted = promoted || (e.Type == "key-change" && strings.Contains(e.Message, "now sending under it"))
		if e.Type == "peer-lost" {
			t.Errorf("fw1 lost its peer during the key change: %s", e.Message)
		}
	}
	if !promoted {
		t.Errorf("fw1 never moved to the new key")
	}
	if out, err := exec.Command(filepath.Join(bin, "tandemctl"), "-socket", filepath.Join(l.dir, "fw1.sock"), "ha", "sync-test").CombinedOutput(); err != nil || !strings.Contains(string(out), "IN SYNC") {
		t.Errorf("after the key change: %v\n%s", err, out)
	}
}

// SPEC: CFG-8
// SPEC: CFG-7
// A new unit (empty datastore) joins with the active's HA address and the
// pre-shared key: it pulls the configuration and becomes the standby
// while the active stays active throughout. A wrong key is refused and
// changes nothing.
func TestNewUnitJoinsThePair(t *testing.T) {
	l := startPair(t)
	if out, err := labCtl(t, l.name, l.dir, "kill", "fw2"); err != nil { // the failed unit
		t.Fatalf("kill: %v\n%s", err, out)
	}
	// The replacement: a fresh tandemd, no configuration, same serial.
	data, sock := filepath.Join(t.TempDir(), "data"), filepath.Join(t.TempDir(), "new.sock")
	cmd := exec.Command("ip", "netns", "exec", l.fw2.ns, filepath.Join(bin, "tandemd"),
		"-data", data, "-plugins", filepath.Join(bin, "plugins"), "-socket", sock, "-serial", "LAB-FW2")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	fresh := local.NewClient(sock)
	l.fw2.eventually("the replacement answers", 15*time.Second, func() bool {
		_, err := fresh.Status(context.Background())
		return err == nil
	})
	join := func(key string) (string, error) {
		out, err := exec.Command(filepath.Join(bin, "tandemctl"), "-socket", sock, "ha", "join",
			"-peer", "169.254.10.1", "-key", key, "-port", "X2", "-address", "169.254.10.2/29").CombinedOutput()
		return string(out), err
	}
	if out, err := join("not the pair's key"); err == nil || !strings.Contains(out, "authentication") {
		t.Errorf("join with a wrong key: %v\n%s", err, out)
	}
	if out, err := join("tandem-lab-pre-shared-key"); err != nil || !strings.Contains(out, "LAB-FW1") {
		t.Fatalf("join: %v\n%s", err, out)
	}
	l.fw2.eventually("the new unit is the standby", 15*time.Second, func() bool {
		st, err := fresh.Status(context.Background())
		return err == nil && st.Role == "standby"
	})
	if r := l.role("fw1"); r != "active" {
		t.Errorf("the active was disturbed by the join: %s", r)
	}
	l.fw2.eventually("the new unit holds its own monitoring address", 10*time.Second, func() bool {
		return l.fw2.hasAddr("x0", "192.0.2.3/24")
	})
}

// SPEC: ROLE-3
// With preempt on, the primary takes the active role back after its
// monitored link recovers and the hold time passes; with preempt off it
// stays standby (TestMonitoredLinkDownFailsOver).
func TestPreemptGivesThePrimaryTheRoleBack(t *testing.T) {
	l := startPair(t)
	ctl := func(args ...string) {
		full := append([]string{"-socket", filepath.Join(l.dir, "fw1.sock"), "config"}, args...)
		if out, err := exec.Command(filepath.Join(bin, "tandemctl"), full...).CombinedOutput(); err != nil {
			t.Fatalf("tandemctl %v: %v\n%s", args, err, out)
		}
	}
	ctl("set", "/ha/config/preempt", "true")
	ctl("set", "/ha/config/preempt-hold-time", "2")
	ctl("commit", "-m", "preempt")
	l.fw2.eventually("preempt reaches the standby", 10*time.Second, func() bool {
		out, err := l.clients["fw2"].Config(context.Background(), "running")
		return err == nil && strings.Contains(string(out), `"preempt": true`)
	})
	if out, err := labCtl(t, l.name, l.dir, "cut", "fw1:lan"); err != nil {
		t.Fatalf("cut: %v\n%s", err, out)
	}
	l.fw2.eventually("fw2 takes over for fw1's lost LAN link", 5*time.Second, func() bool {
		return l.role("fw2") == "active" && l.role("fw1") == "standby"
	})
	restored := time.Now()
	if out, err := labCtl(t, l.name, l.dir, "restore", "fw1:lan"); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	l.fw1.eventually("fw1, the primary, takes the role back", 15*time.Second, func() bool {
		return l.role("fw1") == "active" && l.role("fw2") == "standby"
	})
	if held := time.Since(restored); held < 2*time.Second {
		t.Errorf("the primary took the role back after %s, before the 2 s hold time", held)
	}
}
