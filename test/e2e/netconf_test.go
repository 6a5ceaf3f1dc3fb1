package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// netconfTestdata is the directory of the NETCONF client scripts.
func netconfTestdata(t *testing.T) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "testdata", "netconf")
}

// ncclientPython returns a Python interpreter that has ncclient, or
// skips the test saying how to get it.
func ncclientPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import ncclient, lxml").Run() == nil {
			return py
		}
	}
	t.Skip("skipping: python3-ncclient is not installed (Debian package python3-ncclient; scripts/deps.sh installs it)")
	return ""
}

// password reads a unit's initial admin password from its data
// directory.
func password(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "initial-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// runIn runs a command in a network namespace and fails the test with
// its output when it fails.
func runIn(t *testing.T, ns string, env []string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	timer := time.AfterFunc(timeout, func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	})
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Every NETCONF operation and capability tandem offers, driven by
// ncclient (a real client) over both framings against a tandemd in its
// own namespace: hello and capabilities, get and get-config with subtree
// and XPath filters, lock/unlock, edit-config with every operation,
// default-operation, test-option and error-option, validate, commit,
// discard-changes, :writable-running, copy-config, delete-config,
// with-defaults, confirmed commit with timeout rollback, persist and
// cancel-commit, lock contention, kill-session, ten parallel sessions,
// get-schema, netconf-state, yang-library, tandem-operations rpcs and
// notifications of the HA event log (replay and live).
func TestNetconfWithNcclient(t *testing.T) {
	py := ncclientPython(t)
	u := startUnit(t, "")
	run(t, "ip", "-n", u.ns, "link", "set", "lo", "up") // the client connects over loopback
	pw := password(t, filepath.Join(u.dir, "data"))
	script := filepath.Join(netconfTestdata(t), "ncclient_check.py")
	for _, base := range []string{"1.0", "1.1"} {
		out := runIn(t, u.ns, nil, 3*time.Minute, py, script, "--host", "127.0.0.1", "--port", "830",
			"--user", "admin", "--password", pw, "--base", base)
		t.Logf("base:%s\n%s", base, out)
		if n := len(regexp.MustCompile(`(?m)^ok `).FindAllString(out, -1)); n < 15 {
			t.Errorf("base:%s: only %d checks passed", base, n)
		}
	}
}

var recap = regexp.MustCompile(`(?m)^(fw\d)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// An Ansible playbook (ansible.netcommon.netconf_config and netconf_get)
// configures the lab pair's active unit from the client host over the
// management address, reads the synced result from the standby, and
// changes nothing on its second run; then the HA-role rules are checked
// with ncclient on both units and a failover is run over NETCONF.
// SPEC: CFG-1
// SPEC: CLU-11
func TestNetconfAnsibleAndRolesOnThePair(t *testing.T) {
	py := ncclientPython(t)
	playbook, err := exec.LookPath("ansible-playbook")
	if err != nil {
		t.Skip("skipping: ansible-playbook is not installed (Debian package ansible; scripts/deps.sh installs it)")
	}
	l := startPair(t)
	pw1, pw2 := password(t, filepath.Join(l.dir, "fw1")), password(t, filepath.Join(l.dir, "fw2"))
	work := t.TempDir()
	inv := filepath.Join(work, "inventory.ini")
	invText := fmt.Sprintf(`[active]
fw1 ansible_host=192.0.2.2 ansible_password=%s
[standby]
fw2 ansible_host=192.0.2.3 ansible_password=%s
[all:vars]
ansible_connection=ansible.netcommon.netconf
ansible_network_os=ansible.netcommon.default
ansible_user=admin
ansible_port=830
ansible_python_interpreter=%s
`, pw1, pw2, py)
	if err := os.WriteFile(inv, []byte(invText), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=" + work, "ANSIBLE_LOCAL_TEMP=" + filepath.Join(work, "tmp"),
		"ANSIBLE_PERSISTENT_CONTROL_PATH_DIR=" + filepath.Join(work, "pc"),
		"ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_PARAMIKO_LOOK_FOR_KEYS=False",
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_RETRY_FILES_ENABLED=False",
	}
	book := filepath.Join(netconfTestdata(t), "playbook.yml")
	for i, wantChange := range []bool{true, false} {
		out := runIn(t, l.name+"-client", env, 4*time.Minute, playbook, "-i", inv, book)
		t.Logf("ansible run %d:\n%s", i+1, out)
		changed := map[string]string{}
		for _, m := range recap.FindAllStringSubmatch(out, -1) {
			changed[m[1]] = m[3]
			if m[4] != "0" || m[5] != "0" {
				t.Fatalf("run %d: %s unreachable=%s failed=%s", i+1, m[1], m[4], m[5])
			}
		}
		if len(changed) != 2 {
			t.Fatalf("run %d: no recap for both units:\n%s", i+1, out)
		}
		if got := changed["fw1"] != "0"; got != wantChange {
			t.Errorf("run %d: fw1 changed=%s, want changed %v", i+1, changed["fw1"], wantChange)
		}
		if changed["fw2"] != "0" {
			t.Errorf("run %d: the read-only play on fw2 changed=%s", i+1, changed["fw2"])
		}
	}
	out := runIn(t, l.name+"-client", nil, 3*time.Minute, py, filepath.Join(netconfTestdata(t), "pair_check.py"),
		"--active", "192.0.2.2", "--active-password", pw1, "--standby", "192.0.2.3", "--standby-password", pw2)
	t.Logf("%s", out)
}
