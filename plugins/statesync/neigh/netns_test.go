package neigh

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// netNS is a network namespace a test created (name prefixed "neigh-").
type netNS struct {
	name string
	fd   int
}

// needRoot skips tests that need namespaces, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and writes kernel neighbour tables")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (iproute2, nftables): %v", tool, err)
		}
	}
}

// newNS creates a namespace, deleted when the test ends.
func newNS(t testing.TB, role string) *netNS {
	t.Helper()
	name := fmt.Sprintf("neigh-%04x-%s", rand.IntN(1<<16), role)
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

// echoPort is the UDP port of the echo servers.
const echoPort = 7007

// udpEcho runs a UDP echo server on every address of the namespace until
// the test ends.
func (n *netNS) udpEcho(t testing.TB) {
	t.Helper()
	var c net.PacketConn
	var err error
	n.do(t, func() { c, err = net.ListenPacket("udp", fmt.Sprintf(":%d", echoPort)) })
	if err != nil {
		t.Fatalf("echo server in %s: %v", n.name, err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			l, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo(buf[:l], from)
		}
	}()
}

// reach sends a datagram from the namespace to dst's echo server and
// waits up to timeout for the echo: two-way reachability.
func (n *netNS) reach(t testing.TB, dst string, timeout time.Duration) error {
	t.Helper()
	var c net.Conn
	var err error
	n.do(t, func() { c, err = net.Dial("udp", net.JoinHostPort(dst, fmt.Sprint(echoPort))) })
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	l, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:l]) != "hello" {
		return errors.New("echo differs")
	}
	return nil
}
