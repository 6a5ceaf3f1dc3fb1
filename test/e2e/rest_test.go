package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/northbound/auth"
)

// restLab is a lab pair driven over REST from the client namespace.
type restLab struct {
	*pairLab
	adminPW string
}

func startRESTPair(t *testing.T) *restLab {
	t.Helper()
	l := &restLab{pairLab: startPair(t)}
	pw, err := os.ReadFile(filepath.Join(l.dir, "fw1", auth.BootstrapFile))
	if err != nil {
		t.Fatal(err)
	}
	l.adminPW = strings.TrimSpace(string(pw))
	return l
}

// curl runs curl in the client namespace and returns the status code and
// the body.
func (l *restLab) curl(user, pass, method, url, body string, header ...string) (int, string) {
	l.t.Helper()
	args := []string{"netns", "exec", l.name + "-client", "curl", "-sk", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-u", user + ":" + pass}
	if body != "" {
		args = append(args, "-H", "Content-Type: application/yang-data+json", "--data-binary", body)
	}
	for _, h := range header {
		args = append(args, "-H", h)
	}
	out, err := exec.Command("ip", append(args, url)...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("curl %s %s: %v\n%s", method, url, err, out)
	}
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndexByte(s, '\n')
	var code int
	fmt.Sscanf(s[i+1:], "%d", &code)
	return code, s[:max(i, 0)]
}

// SPEC: CFG-1
// Over REST with curl from the client host: the active takes a change,
// which config sync carries to the standby; the standby refuses writes
// with 403 and its reason but answers reads; the failover rpc hands the
// active role over.
func TestRESTPairWithCurl(t *testing.T) {
	l := startRESTPair(t)
	vip, fw2 := "https://192.0.2.1", "https://192.0.2.3"
	code, body := l.curl("admin", l.adminPW, "PATCH", vip+"/restconf/data/tandem-ha:ha/config", `{"tandem-ha:config": {"preempt-hold-time": 75}}`)
	if code != 204 {
		t.Fatalf("PATCH on the active: %d %s", code, body)
	}
	// The standby's own bootstrap password: users are not configured yet.
	pw2, err := os.ReadFile(filepath.Join(l.dir, "fw2", auth.BootstrapFile))
	if err != nil {
		t.Fatal(err)
	}
	fw2pw := strings.TrimSpace(string(pw2))
	l.fw2.eventually("the change reaches the standby by config sync", 10*time.Second, func() bool {
		code, body := l.curl("admin", fw2pw, "GET", fw2+"/restconf/data/tandem-ha:ha/config/preempt-hold-time", "")
		return code == 200 && strings.Contains(body, "75")
	})
	code, body = l.curl("admin", fw2pw, "PATCH", fw2+"/restconf/data/tandem-ha:ha/config", `{"tandem-ha:config": {"preempt-hold-time": 80}}`)
	if code != 403 || !strings.Contains(body, `"error-app-tag": "tandem:ha-role"`) || !strings.Contains(body, "standby") {
		t.Errorf("PATCH on the standby: %d %s", code, body)
	}
	code, body = l.curl("admin", fw2pw, "POST", fw2+"/restconf/operations/tandem-operations:sync-settings", "")
	if code != 403 {
		t.Errorf("sync-settings on the standby (CLU-11: active only): %d %s", code, body)
	}
	// upgrade-firmware runs on a standby too (CFG-6); a file that is not a
	// tandemd is refused with the field and the reason, as RESTCONF errors.
	code, body = l.curl("admin", fw2pw, "POST", fw2+"/restconf/operations/tandem-operations:upgrade-firmware",
		`{"tandem-operations:input": {"image": "/bin/true"}}`)
	if code != 400 || !strings.Contains(body, "input/image") || !strings.Contains(body, "not a tandemd image") {
		t.Errorf("upgrade-firmware with /bin/true: %d %s", code, body)
	}
	code, body = l.curl("admin", l.adminPW, "POST", vip+"/restconf/operations/tandem-operations:failover", "")
	if code != 204 {
		t.Fatalf("failover rpc: %d %s", code, body)
	}
	l.fw2.eventually("fw2 becomes active after the failover rpc", 10*time.Second, func() bool {
		return l.role("fw2") == "active" && l.role("fw1") == "standby"
	})
}

// The Ansible playbook (Debian's ansible: ansible.netcommon.restconf_config
// and ansible.builtin.uri) configures the pair through REST on the active;
// a second run changes nothing; the standby ends up with the same
// configuration.
func TestRESTAnsiblePlaybook(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook is not installed (Debian package ansible; scripts/deps.sh installs it)")
	}
	l := startRESTPair(t)
	_, here, _, _ := runtime.Caller(0)
	data := filepath.Join(filepath.Dir(here), "testdata", "rest")
	// The automation account, created with the bootstrap password; the
	// playbook logs in with it.
	hash, err := auth.HashPassword("netops-password")
	if err != nil {
		t.Fatal(err)
	}
	monitorHash, err := auth.HashPassword("monitor-password")
	if err != nil {
		t.Fatal(err)
	}
	user := fmt.Sprintf(`{"tandem-system:user": [{"name": "netops", "config": {"name": "netops", "role": "admin", "password-hash": %q}}]}`, hash)
	if code, body := l.curl("admin", l.adminPW, "POST", "https://192.0.2.1/restconf/data/tandem-system:system/users", user); code != 201 {
		t.Fatalf("creating the netops user: %d %s", code, body)
	}
	home := t.TempDir()
	extra, _ := json.Marshal(map[string]string{
		"ansible_host": "192.0.2.1", "ansible_user": "netops", "ansible_password": "netops-password", "monitor_hash": monitorHash,
	})
	play := func() string {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", l.name+"-client", "ansible-playbook",
			"-i", filepath.Join(data, "inventory.ini"), "-e", string(extra), filepath.Join(data, "pair.yml"))
		cmd.Env = append(os.Environ(), "HOME="+home, "ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"),
			"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR="+filepath.Join(home, "pc"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ansible-playbook: %v\n%s", err, out)
		}
		return string(out)
	}
	recap := regexp.MustCompile(`active\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=0`)
	first := play()
	m := recap.FindStringSubmatch(first)
	if m == nil || m[2] != "4" {
		t.Fatalf("first run: want changed=4 (three data nodes and one user)\n%s", first)
	}
	second := play()
	m = recap.FindStringSubmatch(second)
	if m == nil || m[2] != "0" {
		t.Fatalf("second run is not idempotent: want changed=0\n%s", second)
	}
	t.Logf("ansible recap, first run: %s; second: %s", recap.FindString(first), recap.FindString(second))
	// Both units hold the result; the standby got it by config sync, and
	// the new read-only user may read there but not write.
	for _, unit := range []string{"https://192.0.2.2", "https://192.0.2.3"} {
		code, body := l.curl("netops", "netops-password", "GET", unit+"/restconf/data/tandem-system:system/config?content=config", "")
		if code != 200 || !strings.Contains(body, `"event-log-size": 20000`) || !strings.Contains(body, `"reconcile-interval": 20`) {
			t.Errorf("%s system config: %d %s", unit, code, body)
		}
	}
	code, body := l.curl("monitor", "monitor-password", "GET", "https://192.0.2.3/restconf/data/tandem-ha:ha/config/preempt-hold-time", "")
	if code != 200 || !strings.Contains(body, "90") {
		t.Errorf("monitor reads the standby: %d %s", code, body)
	}
	if code, _ := l.curl("monitor", "monitor-password", "PATCH", "https://192.0.2.1/restconf/data/tandem-ha:ha/config", `{"tandem-ha:config": {"preempt": true}}`); code != 403 {
		t.Errorf("read-only user writes: %d", code)
	}
	hist, err := l.clients["fw1"].History(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	byNetops := 0
	for _, r := range hist {
		if r.Author == "netops" && r.Origin == "rest" {
			byNetops++
		}
	}
	if byNetops != 4 {
		t.Errorf("%d revisions by netops via rest, want 4 (one per change of the first run): %+v", byNetops, hist)
	}
}

// tandemctl with a config file manages the unit over REST from another
// host as it does over the local socket.
func TestRESTTandemctlRemote(t *testing.T) {
	l := startRESTPair(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tandemctl.json")
	b, _ := json.Marshal(map[string]any{"url": "https://192.0.2.1", "user": "admin", "password": l.adminPW,
		"ca_file": filepath.Join(l.dir, "fw1", "tls", "cert.pem")})
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctl := func(args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", l.name + "-client", filepath.Join(bin, "tandemctl"), "-config", cfg}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := ctl(args...)
		if err != nil {
			t.Fatalf("tandemctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if out := must("status"); !strings.Contains(out, "LAB-FW1") || !strings.Contains(out, "active") {
		t.Errorf("status:\n%s", out)
	}
	if out := must("ha", "status"); !strings.Contains(out, "LAB-FW2") {
		t.Errorf("ha status:\n%s", out)
	}
	must("config", "set", "/ha/config/preempt-hold-time", "120")
	if out := must("config", "diff"); !strings.Contains(out, "/ha/config/preempt-hold-time = 120") {
		t.Errorf("diff:\n%s", out)
	}
	if out := must("config", "validate"); !strings.Contains(out, "candidate is valid") {
		t.Errorf("validate:\n%s", out)
	}
	if out := must("config", "commit", "-m", "remote"); !strings.Contains(out, "running revision") {
		t.Errorf("commit:\n%s", out)
	}
	if out := must("config", "history", "-n", "1"); !strings.Contains(out, "admin") || !strings.Contains(out, "rest") || !strings.Contains(out, "remote") {
		t.Errorf("history:\n%s", out)
	}
	must("config", "set", "/ha/config/mode", "active-active-cluster")
	out, err := ctl("config", "commit")
	if err == nil || !strings.Contains(out, "validation error") {
		t.Errorf("an invalid commit: %v\n%s", err, out)
	}
	must("config", "discard")
	if out := must("events", "-n", "5"); !strings.Contains(out, "commit") {
		t.Errorf("events:\n%s", out)
	}
	if out := must("state", "/ha/state"); !strings.Contains(out, "tandem-ha:state") {
		t.Errorf("state:\n%s", out)
	}
	// A wrong certificate is refused: trust nothing but fw2's certificate.
	b, _ = json.Marshal(map[string]any{"url": "https://192.0.2.1", "user": "admin", "password": l.adminPW,
		"ca_file": filepath.Join(l.dir, "fw2", "tls", "cert.pem")})
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := ctl("status"); err == nil || !strings.Contains(out, "certificate") {
		t.Errorf("status with the wrong CA: %v\n%s", err, out)
	}
}
