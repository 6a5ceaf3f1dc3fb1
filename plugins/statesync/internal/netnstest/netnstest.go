// Package netnstest gives the statesync tests throwaway network
// namespaces: it creates and deletes them, runs commands and Go code
// inside them, links them with veth pairs and records what a channel
// Source emits. Only tests import it; it needs root and iproute2.
package netnstest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// debianPackage names the Debian package of the tools tests ask for, so
// that a skip says what to install.
var debianPackage = map[string]string{
	"ip":        "iproute2",
	"nft":       "nftables",
	"conntrack": "conntrack",
	"dnsmasq":   "dnsmasq-base",
	"go":        "golang-go",
}

// NeedRoot skips the test unless it runs as root and finds every tool on
// PATH. why says what the test does as root: the skip reads
// "needs root: " + why.
func NeedRoot(t testing.TB, why string, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if pkg, ok := debianPackage[tool]; ok {
				t.Skipf("needs %s (Debian package %s): %v", tool, pkg, err)
			}
			t.Skipf("needs %s: %v", tool, err)
		}
	}
}

// NS is a network namespace a test created; it is deleted when the test
// ends.
type NS struct {
	// Name is the namespace's name for `ip netns`.
	Name string
	// FD is an open descriptor of the namespace, for setns(2) and the
	// NetNS fields of the statesync configs.
	FD int
}

// New creates the namespace "<prefix>-<random 4 hex digits>-<role>" with
// its loopback up, and deletes it when the test ends. prefix must be
// unique per test package so that packages tested in parallel do not
// collide.
func New(t testing.TB, prefix, role string) *NS {
	t.Helper()
	name := fmt.Sprintf("%s-%04x-%s", prefix, rand.IntN(1<<16), role)
	Run(t, "ip", "netns", "add", name)
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		exec.Command("ip", "netns", "del", name).Run()
		t.Fatalf("open netns %s: %v", name, err)
	}
	ns := &NS{Name: name, FD: fd}
	t.Cleanup(func() {
		unix.Close(fd)
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	ns.Run(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Run runs a command in the test's own namespace, fails the test if it
// fails, and returns its combined output.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Run runs a command inside the namespace, fails the test if it fails,
// and returns its combined output.
func (n *NS) Run(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, append([]string{"ip", "netns", "exec", n.Name}, args...)...)
}

// Try runs a command inside the namespace and returns its combined output
// and error, for commands that are expected to fail.
func (n *NS) Try(args ...string) (string, error) {
	out, err := n.Command(args...).CombinedOutput()
	return string(out), err
}

// Command prepares a command that runs inside the namespace, for
// long-running processes the caller starts and stops.
func (n *NS) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Sysctl sets each "key=value" inside the namespace.
func (n *NS) Sysctl(t testing.TB, kv ...string) {
	t.Helper()
	for _, s := range kv {
		n.Run(t, "sysctl", "-qw", s)
	}
}

// NFT loads an nftables ruleset (nft -f syntax) into the namespace.
func (n *NS) NFT(t testing.TB, ruleset string) {
	t.Helper()
	cmd := n.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s", n.Name, err, out)
	}
}

// Do runs fn with the calling thread in the namespace: sockets fn creates
// belong to it.
func (n *NS) Do(t testing.TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open own netns: %v", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(n.FD, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", n.Name, err)
	}
	defer func() {
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// leave the thread locked: it dies with the goroutine
			t.Errorf("restore netns: %v", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// ListenUDP binds a UDP socket to addr ("address:port") inside the
// namespace.
func (n *NS) ListenUDP(t testing.TB, addr string) *net.UDPConn {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatalf("listen UDP in %s: %v", n.Name, err)
	}
	var c *net.UDPConn
	n.Do(t, func() { c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap)) })
	if err != nil {
		t.Fatalf("listen UDP %s in %s: %v", addr, n.Name, err)
	}
	return c
}

// Veth links interface a (address aAddr, a prefix such as "10.0.0.1/24")
// in namespace na to interface b (bAddr) in nb, and sets both up.
func Veth(t testing.TB, na *NS, a, aAddr string, nb *NS, b, bAddr string) {
	t.Helper()
	Run(t, "ip", "link", "add", a, "netns", na.Name, "type", "veth", "peer", "name", b, "netns", nb.Name)
	na.Run(t, "ip", "addr", "add", aAddr, "dev", a)
	nb.Run(t, "ip", "addr", "add", bAddr, "dev", b)
	na.Run(t, "ip", "link", "set", a, "up")
	nb.Run(t, "ip", "link", "set", b, "up")
}
