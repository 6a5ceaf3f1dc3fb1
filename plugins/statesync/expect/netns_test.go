package expect

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// netNS is a network namespace a test created (name prefixed "expect-").
type netNS struct {
	name string
	fd   int
}

// needRoot skips tests that need namespaces, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and writes kernel conntrack tables")
	}
	for _, tool := range []string{"ip", "nft", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (iproute2, nftables, conntrack-tools): %v", tool, err)
		}
	}
	if _, err := os.Stat("/sys/module/nf_conntrack_ftp"); err != nil {
		t.Skip("needs the kernel's FTP conntrack helper (nf_conntrack_ftp): " + err.Error())
	}
}

// newNS creates a namespace, deleted when the test ends.
func newNS(t testing.TB, role string) *netNS {
	t.Helper()
	name := fmt.Sprintf("expect-%04x-%s", rand.IntN(1<<16), role)
	sh(t, "ip", "netns", "add", name)
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		exec.Command("ip", "netns", "del", name).Run()
		t.Fatalf("open netns %s: %v", name, err)
	}
	ns := &netNS{name: name, fd: fd}
	t.Cleanup(func() {
		unix.Close(fd)
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	ns.sh(t, "ip", "link", "set", "lo", "up")
	return ns
}

func sh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (n *netNS) sh(t testing.TB, args ...string) string {
	t.Helper()
	return sh(t, append([]string{"ip", "netns", "exec", n.name}, args...)...)
}

func (n *netNS) nft(t testing.TB, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s", n.name, err, out)
	}
}

// do runs fn with the calling thread in the namespace: sockets fn creates
// belong to it.
func (n *netNS) do(t testing.TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open own netns: %v", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", n.name, err)
	}
	defer func() {
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			t.Errorf("restore netns: %v", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

func veth(t testing.TB, na *netNS, a, aAddr string, nb *netNS, b, bAddr string) {
	t.Helper()
	sh(t, "ip", "link", "add", a, "netns", na.name, "type", "veth", "peer", "name", b, "netns", nb.name)
	na.sh(t, "ip", "addr", "add", aAddr, "dev", a)
	nb.sh(t, "ip", "addr", "add", bAddr, "dev", b)
	na.sh(t, "ip", "link", "set", a, "up")
	nb.sh(t, "ip", "link", "set", b, "up")
}

// Addresses of the test topology (as in the conntrack channel's tests).
const (
	clientAddr = "10.200.0.1"
	serverAddr = "10.200.9.1"
	vipAddr    = "10.200.5.1"
)

// firewallRules is a stateful policy with the FTP helper on port 21:
// forward only established/related traffic plus new FTP control
// connections from the inside; with nat, SNAT to the shared address.
func firewallRules(nat bool) string {
	r := `
table inet filter {
	ct helper ftp-standard {
		type "ftp" protocol tcp;
	}
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		tcp dport 21 ct helper set "ftp-standard"
	}
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "in" tcp dport 21 ct state new accept
	}
}
`
	if nat {
		r += `
table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100;
		oifname "out" snat to ` + vipAddr + `
	}
}
`
	}
	return r
}

// topology is client -> fw(s) -> server.
type topology struct {
	cli, srv *netNS
	fws      []*netNS
}

func newTopology(t testing.TB, n int, nat bool) *topology {
	t.Helper()
	tp := &topology{cli: newNS(t, "cli"), srv: newNS(t, "srv")}
	tp.cli.sh(t, "ip", "addr", "add", clientAddr+"/32", "dev", "lo")
	tp.srv.sh(t, "ip", "addr", "add", serverAddr+"/32", "dev", "lo")
	for i := 1; i <= n; i++ {
		fw := newNS(t, fmt.Sprintf("fw%d", i))
		veth(t, tp.cli, fmt.Sprintf("tofw%d", i), fmt.Sprintf("10.201.%d.1/24", i), fw, "in", fmt.Sprintf("10.201.%d.254/24", i))
		veth(t, fw, "out", fmt.Sprintf("10.202.%d.254/24", i), tp.srv, fmt.Sprintf("tofw%d", i), fmt.Sprintf("10.202.%d.1/24", i))
		fw.sh(t, "ip", "addr", "add", vipAddr+"/32", "dev", "out")
		fw.sh(t, "ip", "route", "add", clientAddr+"/32", "via", fmt.Sprintf("10.201.%d.1", i))
		fw.sh(t, "ip", "route", "add", serverAddr+"/32", "via", fmt.Sprintf("10.202.%d.1", i))
		for _, s := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
			"net.netfilter.nf_conntrack_tcp_loose=0"} {
			fw.sh(t, "sysctl", "-qw", s)
		}
		fw.nft(t, firewallRules(nat))
		tp.fws = append(tp.fws, fw)
	}
	tp.cli.sh(t, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
	tp.srv.sh(t, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
	tp.routeVia(t, 1, false)
	return tp
}

// routeVia points the client's and the server's routes at firewall i.
func (tp *topology) routeVia(t testing.TB, i int, replace bool) {
	t.Helper()
	verb := "add"
	if replace {
		verb = "replace"
	}
	tp.cli.sh(t, "ip", "route", verb, "default", "via", fmt.Sprintf("10.201.%d.254", i), "src", clientAddr)
	tp.srv.sh(t, "ip", "route", verb, vipAddr+"/32", "via", fmt.Sprintf("10.202.%d.254", i), "src", serverAddr)
	tp.srv.sh(t, "ip", "route", verb, clientAddr+"/32", "via", fmt.Sprintf("10.202.%d.254", i), "src", serverAddr)
}

// recorder collects what a Source emits.
type recorder struct {
	mu   sync.Mutex
	recs []channel.Record
	lost []string
}

func (r *recorder) emit(rec channel.Record) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
}

func (r *recorder) lostFn(reason string) {
	r.mu.Lock()
	r.lost = append(r.lost, reason)
	r.mu.Unlock()
}

func (r *recorder) records() []channel.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]channel.Record(nil), r.recs...)
}
