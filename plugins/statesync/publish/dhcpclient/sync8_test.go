package dhcpclient_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/client"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/publishtest"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/records"
)

// nsPrefix starts the names of the namespaces this package's tests create.
const nsPrefix = "pubdhcp"

// lab is a DHCP server namespace with dnsmasq on a bridge, and two unit
// namespaces whose wan0 is on that bridge and whose ha0 links them for
// the sync stream.
type lab struct {
	dir        string
	srv, a, b  *netnstest.NS
	pair       *publishtest.Pair
	dnsmasqLog string
	leaseFile  string
	bin        string
}

const (
	clientIDA = "01:02:aa:bb:cc:dd:ee"
	macA      = "02:00:5e:00:0a:01"
	macB      = "02:00:5e:00:0b:01"
)

var buildOnce sync.Once
var binPath, buildErr = "", error(nil)

// buildClient builds cmd/tandem-dhcpc once per test binary.
func buildClient(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pubdhcp-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tandem-dhcpc")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/tandem-ha/tandem/cmd/tandem-dhcpc").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func newLab(t *testing.T) *lab {
	t.Helper()
	netnstest.NeedRoot(t, "creates network namespaces, runs a DHCP server and configures addresses", "ip", "dnsmasq", "go")
	l := &lab{dir: t.TempDir(), bin: buildClient(t)}
	l.srv, l.a, l.b = netnstest.New(t, nsPrefix, "srv"), netnstest.New(t, nsPrefix, "a"), netnstest.New(t, nsPrefix, "b")
	l.srv.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	l.srv.Run(t, "ip", "addr", "add", "10.77.0.1/24", "dev", "br0")
	l.srv.Run(t, "ip", "link", "set", "br0", "up")
	for _, u := range []struct {
		ns   *netnstest.NS
		port string
		mac  string
	}{{l.a, "pa", macA}, {l.b, "pb", macB}} {
		netnstest.Run(t, "ip", "-n", u.ns.Name, "link", "add", "wan0", "address", u.mac, "type", "veth", "peer", "name", u.port, "netns", l.srv.Name)
		u.ns.Run(t, "ip", "link", "set", "wan0", "up")
		l.srv.Run(t, "ip", "link", "set", u.port, "master", "br0")
		l.srv.Run(t, "ip", "link", "set", u.port, "up")
	}
	netnstest.Run(t, "ip", "-n", l.a.Name, "link", "add", "ha0", "type", "veth", "peer", "name", "ha0", "netns", l.b.Name)
	l.a.Run(t, "ip", "addr", "add", "169.254.77.1/30", "dev", "ha0")
	l.b.Run(t, "ip", "addr", "add", "169.254.77.2/30", "dev", "ha0")
	l.a.Run(t, "ip", "link", "set", "ha0", "up")
	l.b.Run(t, "ip", "link", "set", "ha0", "up")

	l.dnsmasqLog, l.leaseFile = filepath.Join(l.dir, "dnsmasq.log"), filepath.Join(l.dir, "leases")
	dm := l.srv.Command("dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--user=root", "--port=0",
		"--interface=br0", "--bind-interfaces", "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,10m",
		"--dhcp-option=option:router,10.77.0.1", "--dhcp-option=option:dns-server,10.77.0.53,10.77.0.54",
		"--dhcp-option=option:domain-name,lab.test",
		"--dhcp-leasefile="+l.leaseFile, "--log-dhcp", "--log-facility="+l.dnsmasqLog, "--pid-file="+filepath.Join(l.dir, "dnsmasq.pid"))
	var dmOut bytes.Buffer
	dm.Stdout, dm.Stderr = &dmOut, &dmOut
	if err := dm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dm.Process.Kill()
		dm.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(l.dnsmasqLog)
			t.Logf("dnsmasq output: %s\ndnsmasq log:\n%s", dmOut.String(), log)
		}
	})
	// The sync stream runs on ha0, between the unit namespaces.
	ca := l.a.ListenUDP(t, "169.254.77.1:7035")
	cb := l.b.ListenUDP(t, "169.254.77.2:7035")
	l.pair = publishtest.NewPair(t, []publish.ChannelConfig{publish.DefaultChannel(publish.ChannelDHCPClient)},
		publishtest.Options{ConnA: ca, ConnB: cb, Dir: l.dir})
	return l
}

// proc is a tandem-dhcpc running in a unit namespace.
type proc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (l *lab) startClient(t *testing.T, ns *netnstest.NS, sock string, args ...string) *proc {
	t.Helper()
	p := &proc{out: &syncBuffer{}}
	p.cmd = ns.Command(append([]string{l.bin, "-interface", "wan0", "-socket", sock, "-timeout", "1s"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("tandem-dhcpc in %s:\n%s", ns.Name, p.out.String())
		}
	})
	return p
}

func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not reached in %v: %s", what, d, last)
}

// publishedLease reads the dhcp-client channel of a unit.
func publishedLease(ctx context.Context, sock string) (*records.DHCPLease, string, error) {
	c, err := client.Dial(ctx, sock)
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	role, es, err := c.Get(ctx, publish.ChannelDHCPClient)
	if err != nil || len(es) == 0 {
		return nil, role, err
	}
	l, err := records.DecodeDHCPLease(es[0])
	return &l, role, err
}

// addrOn lists the IPv4 addresses on wan0 of a namespace.
func addrOn(t *testing.T, ns *netnstest.NS) string {
	return ns.Run(t, "ip", "-4", "-o", "addr", "show", "dev", "wan0")
}

func (l *lab) log(t *testing.T) string {
	b, err := os.ReadFile(l.dnsmasqLog)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDHCPClientLeaseSurvivesTakeover is SPEC SYNC-8 on the real path:
// tandem-dhcpc on unit A obtains a lease from dnsmasq and publishes it;
// the stream (over the units' ha0 link) carries it to unit B, whose
// tandem-dhcpc holds it; A dies; B takes over and renews the SAME address
// with the SAME client id by a DHCPREQUEST, never a DHCPDISCOVER, which
// dnsmasq acknowledges; B's address works.
func TestDHCPClientLeaseSurvivesTakeover(t *testing.T) {
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	pa := l.startClient(t, l.a, l.pair.A.Socket, "-client-id", clientIDA)
	pb := l.startClient(t, l.b, l.pair.B.Socket) // no client id: it takes the replicated one

	var lease *records.DHCPLease
	eventually(t, 15*time.Second, "A's lease at the standby", func() (bool, string) {
		got, role, err := publishedLease(ctx, l.pair.B.Socket)
		if err != nil || got == nil {
			return false, fmt.Sprint(role, err)
		}
		lease = got
		return role == client.RoleStandby, role
	})
	if !lease.Address.Addr().IsValid() || !netip.MustParsePrefix("10.77.0.0/24").Contains(lease.Address.Addr()) || lease.Address.Bits() != 24 {
		t.Fatalf("replicated lease address %v, want one of dnsmasq's range in 10.77.0.0/24", lease.Address)
	}
	if got := fmt.Sprintf("%x", []byte(lease.ClientID)); got != strings.ReplaceAll(clientIDA, ":", "") {
		t.Errorf("replicated client id %s, want %s", got, clientIDA)
	}
	if lease.Gateway.String() != "10.77.0.1" || len(lease.DNS) != 2 || lease.DNS[1].String() != "10.77.0.54" ||
		lease.ServerID.String() != "10.77.0.1" || lease.Domain != "lab.test" || lease.LeaseSeconds != 600 || lease.RenewSeconds == 0 {
		t.Errorf("replicated lease %+v: gateway, DNS, domain, server id or times wrong", lease)
	}
	addr := lease.Address.Addr().String()
	if got := addrOn(t, l.a); !strings.Contains(got, lease.Address.String()) {
		t.Fatalf("active unit A's wan0: %q, want %v", got, lease.Address)
	}
	if got := addrOn(t, l.b); strings.Contains(got, addr) {
		t.Fatalf("standby B holds the address on wan0 before takeover: %q", got)
	}
	eventually(t, 5*time.Second, "B's client holds the lease", func() (bool, string) {
		return strings.Contains(pb.out.String(), "holding the replicated lease"), pb.out.String()
	})
	if log := l.log(t); !strings.Contains(log, "DHCPDISCOVER(br0) "+macA) || strings.Contains(log, "DHCPDISCOVER(br0) "+macB) {
		t.Errorf("before takeover want DHCPDISCOVERs from A (%s) only:\n%s", macA, log)
	}
	logBefore := len(l.log(t))

	// Unit A dies: its client, its stream and its WAN link.
	pa.cmd.Process.Signal(syscall.SIGKILL)
	pa.cmd.Wait()
	l.pair.A.Stop()
	l.a.Run(t, "ip", "link", "set", "wan0", "down")
	if err := l.pair.B.Takeover(ctx); err != nil {
		t.Fatal(err)
	}

	var renewed *records.DHCPLease
	eventually(t, 15*time.Second, "B renewed and published the lease", func() (bool, string) {
		got, role, err := publishedLease(ctx, l.pair.B.Socket)
		if err != nil || got == nil || role != client.RoleActive {
			return false, fmt.Sprint(role, err)
		}
		renewed = got
		return got.Obtained.After(lease.Obtained) && got.HardwareAddr == macB, fmt.Sprintf("%+v", got)
	})
	if renewed.Address != lease.Address {
		t.Errorf("after takeover B holds %v, want the same address %v", renewed.Address, lease.Address)
	}
	if !bytes.Equal(renewed.ClientID, lease.ClientID) {
		t.Errorf("after takeover client id %x, want %x", []byte(renewed.ClientID), []byte(lease.ClientID))
	}
	if got := addrOn(t, l.b); !strings.Contains(got, lease.Address.String()) {
		t.Errorf("new active B's wan0: %q, want %v", got, lease.Address)
	}
	// dnsmasq saw a REQUEST for the address from B and acknowledged it; no
	// DISCOVER from B.
	after := l.log(t)[logBefore:]
	reqRE := regexp.MustCompile(`DHCPREQUEST\(br0\) ` + regexp.QuoteMeta(addr) + ` ` + macB)
	ackRE := regexp.MustCompile(`DHCPACK\(br0\) ` + regexp.QuoteMeta(addr) + ` ` + macB)
	if !reqRE.MatchString(after) || !ackRE.MatchString(after) {
		t.Errorf("dnsmasq log after takeover lacks REQUEST/ACK of %s from %s:\n%s", addr, macB, after)
	}
	if strings.Contains(after, "DHCPDISCOVER") {
		t.Errorf("the new active discovered instead of renewing:\n%s", after)
	}
	if !strings.Contains(after, "client provides name") && !strings.Contains(after, "requested options") {
		t.Logf("dnsmasq --log-dhcp detail missing (informational):\n%s", after)
	}
	// dnsmasq's lease file binds the address to the same client id.
	leases, err := os.ReadFile(l.leaseFile)
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, ln := range strings.Split(string(leases), "\n") {
		if strings.Contains(ln, " "+addr+" ") {
			line = ln
		}
	}
	// expiry mac address hostname client-id
	if f := strings.Fields(line); len(f) != 5 || f[4] != clientIDA {
		t.Errorf("dnsmasq lease of %s: %q, want client id %s; lease file:\n%s", addr, line, clientIDA, leases)
	}
	if n := strings.Count(string(leases), "\n"); n != 1 {
		t.Errorf("dnsmasq holds %d leases, want 1 (the same binding):\n%s", n, leases)
	}
	// The address works from the new active: a TCP connection from it to
	// the server side.
	var ln net.Listener
	l.srv.Do(t, func() { ln, err = net.Listen("tcp", "10.77.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte(c.RemoteAddr().String()))
			c.Close()
		}
	}()
	var peer []byte
	l.b.Do(t, func() {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 3 * time.Second}
		var c net.Conn
		if c, err = d.Dial("tcp", ln.Addr().String()); err == nil {
			peer, err = io.ReadAll(c)
			c.Close()
		}
	})
	if err != nil || !strings.HasPrefix(string(peer), addr+":") {
		t.Errorf("TCP from the new active's leased address: server saw %q, %v", peer, err)
	}
}

// TestDHCPClientTakeoverWithoutLeaseDiscovers is SPEC SYNC-8's other half:
// a new active with no replicated lease starts a new discovery.
func TestDHCPClientTakeoverWithoutLeaseDiscovers(t *testing.T) {
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pb := l.startClient(t, l.b, l.pair.B.Socket)
	eventually(t, 5*time.Second, "B's client follows the standby", func() (bool, string) {
		return strings.Contains(pb.out.String(), "role=standby"), pb.out.String()
	})
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(l.log(t), "DHCPDISCOVER") {
		t.Fatalf("a standby client discovered:\n%s", l.log(t))
	}
	l.pair.A.Stop()
	if err := l.pair.B.Takeover(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "B obtained and published a lease", func() (bool, string) {
		got, _, err := publishedLease(ctx, l.pair.B.Socket)
		return err == nil && got != nil && got.HardwareAddr == macB, fmt.Sprint(got, err)
	})
	if log := l.log(t); !strings.Contains(log, "DHCPDISCOVER(br0) "+macB) {
		t.Errorf("no DHCPDISCOVER from B:\n%s", log)
	}
}
