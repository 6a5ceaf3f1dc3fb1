// Package e2e holds tandem's end-to-end tests: real tandemd and plugin
// processes in network namespaces the tests create, driven through the
// real local API and tandemctl. They need root; elsewhere they skip.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/northbound/service"
)

// bin is where TestMain builds tandemd, tandemctl and the lab plugin.
var bin string

// nextVersion is the version of bin/tandemd-next.
const nextVersion = "0.2.0-e2e"

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("e2e: skipping: needs root to create network namespaces")
		os.Exit(0)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		fmt.Println("e2e: skipping: iproute2 (ip) is not installed; run scripts/deps.sh")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "tandem-e2e-bin-")
	if err != nil {
		panic(err)
	}
	bin = dir
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	for out, pkg := range map[string]string{
		"tandemd":                         "./cmd/tandemd",
		"tandemctl":                       "./cmd/tandemctl",
		"plugins/tandem-platform-lab":     "./platforms/lab",
		"plugins/tandem-plugin-statesync": "./plugins/statesync",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Printf("e2e: building %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
	}
	// The firmware a rolling upgrade installs: tandemd with another
	// version (TestRollingUpgradeKeepsSessions).
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "tandemd-next"),
		"-ldflags", "-X github.com/tandem-ha/tandem/core/daemon.Version="+nextVersion, "./cmd/tandemd")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		fmt.Printf("e2e: building tandemd-next: %v\n%s", err, b)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var unitCount atomic.Int32

// unit is one tandemd in its own network namespace with veth ports
// x0..x2 whose peers (p0..p2) stay in the same namespace, up.
type unit struct {
	t      *testing.T
	ns     string
	dir    string
	socket string
	cmd    *exec.Cmd
	client *local.Client
	log    *bytes.Buffer
}

// startUnit creates the namespace and starts tandemd in it with an
// optional initial configuration.
func startUnit(t *testing.T, initial string) *unit {
	t.Helper()
	u := &unit{t: t, ns: fmt.Sprintf("tdm-e2e-%d-%d", os.Getpid(), unitCount.Add(1)), dir: t.TempDir(), log: &bytes.Buffer{}}
	u.socket = filepath.Join(u.dir, "tandem.sock")
	run(t, "ip", "netns", "add", u.ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", u.ns).Run() })
	// No duplicate address detection: its completion re-announces
	// addresses, which would look like changes to the idempotency test.
	run(t, "ip", "netns", "exec", u.ns, "sh", "-c",
		"echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")
	for i := 0; i < 3; i++ {
		run(t, "ip", "-n", u.ns, "link", "add", fmt.Sprintf("x%d", i), "type", "veth", "peer", "name", fmt.Sprintf("p%d", i))
		run(t, "ip", "-n", u.ns, "link", "set", fmt.Sprintf("p%d", i), "up")
	}
	args := []string{"netns", "exec", u.ns, filepath.Join(bin, "tandemd"),
		"-data", filepath.Join(u.dir, "data"), "-plugins", filepath.Join(bin, "plugins"),
		"-socket", u.socket, "-serial", "E2E0001", "-log-level", "debug"}
	if initial != "" {
		path := filepath.Join(u.dir, "initial.json")
		if err := os.WriteFile(path, []byte(initial), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-config", path)
	}
	u.cmd = exec.Command("ip", args...)
	u.cmd.Stdout, u.cmd.Stderr = u.log, u.log
	u.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.stop)
	u.client = local.NewClient(u.socket)
	u.eventually("daemon answers with its plugins running and the platform's intent applied", 15*time.Second, func() bool {
		st, err := u.client.Status(context.Background())
		if err != nil || len(st.Plugins) != 2 {
			return false
		}
		for _, p := range st.Plugins {
			if p.State != "running" || p.AppliedRevision == 0 {
				return false
			}
		}
		return true
	})
	return u
}

// stop ends tandemd and its plugins (its whole process group).
func (u *unit) stop() {
	if u.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-u.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = u.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-u.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	if u.t.Failed() {
		u.t.Logf("tandemd log:\n%s", u.log.String())
	}
}

// ctl runs tandemctl against the unit and returns its output and error.
func (u *unit) ctl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(bin, "tandemctl"), append([]string{"-socket", u.socket}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustCtl runs tandemctl and fails the test when it fails.
func (u *unit) mustCtl(args ...string) string {
	u.t.Helper()
	out, err := u.ctl(args...)
	if err != nil {
		u.t.Fatalf("tandemctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// addrs lists the global addresses of a netdev in the unit's namespace.
func (u *unit) addrs(dev string) []string {
	u.t.Helper()
	out, err := exec.Command("ip", "-n", u.ns, "-j", "addr", "show", "dev", dev).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "does not exist") {
			return nil // not created yet (a virtual MAC child): no addresses
		}
		u.t.Fatalf("ip addr show %s: %v\n%s", dev, err, out)
	}
	var links []struct {
		Flags    []string `json:"flags"`
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Scope     string `json:"scope"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		u.t.Fatal(err)
	}
	var got []string
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Scope == "global" {
				got = append(got, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
			}
		}
	}
	return got
}

// adminUp reports whether the netdev is administratively up.
func (u *unit) adminUp(dev string) bool {
	out, err := exec.Command("ip", "-n", u.ns, "-o", "link", "show", "dev", dev).Output()
	if err != nil {
		u.t.Fatalf("ip link show %s: %v", dev, err)
	}
	flags := string(out)
	if i := strings.IndexByte(flags, '<'); i >= 0 {
		flags = flags[i:strings.IndexByte(flags, '>')]
	}
	return strings.Contains(flags, ",UP") || strings.Contains(flags, "<UP")
}

// platform returns the platform plugin's status.
func (u *unit) platform() service.PluginStatus {
	u.t.Helper()
	for _, p := range u.status().Plugins {
		if p.Kind == "platform" {
			return p
		}
	}
	u.t.Fatal("no platform plugin")
	return service.PluginStatus{}
}

func (u *unit) status() service.Status {
	u.t.Helper()
	st, err := u.client.Status(context.Background())
	if err != nil {
		u.t.Fatalf("status: %v", err)
	}
	return st
}

func (u *unit) eventually(what string, within time.Duration, cond func() bool) {
	u.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			u.t.Fatalf("timed out after %s waiting until %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (u *unit) hasAddr(dev, addr string) bool {
	for _, a := range u.addrs(dev) {
		if a == addr {
			return true
		}
	}
	return false
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
