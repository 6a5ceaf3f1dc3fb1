package xfrm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// netNS is a network namespace a test created (name prefixed "xfrm-").
type netNS struct {
	name string
	fd   int
}

// needRoot skips tests that need namespaces, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and writes kernel xfrm tables")
	}
	for _, tool := range []string{"ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (iproute2): %v", tool, err)
		}
	}
}

// newNS creates a namespace, deleted when the test ends.
func newNS(t testing.TB, role string) *netNS {
	t.Helper()
	name := fmt.Sprintf("xfrm-%04x-%s", rand.IntN(1<<16), role)
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

func (n *netNS) try(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...).CombinedOutput()
	return string(out), err
}
