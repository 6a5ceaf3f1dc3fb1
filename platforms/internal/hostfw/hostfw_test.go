package hostfw

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// conn returns an nftables connection into a fresh network namespace.
func conn(t *testing.T) (*nftables.Conn, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	name := fmt.Sprintf("tdm-hostfw-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	return c, name
}

func listed(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list ruleset: %v: %s", err, out)
	}
	return string(out)
}

var spec = &sdk.FirewallSpec{
	HaLinks: []*sdk.HALinkFilter{
		{Netdev: "x2", PeerAddresses: []string{"169.254.10.2"}},
		{Netdev: "x3", PeerAddresses: []string{"169.254.11.2", "fd00::2"}},
	},
	Monitoring: []*sdk.MonitoringFilter{
		{Address: "192.0.2.2", AllowManagement: true, ManagementTcpPorts: []uint32{443, 22}},
		{Address: "198.51.100.2"},
	},
}

// SPEC: SEC-3
// SPEC: MON-3
// The rules nft(8) lists are the ones the spec asks for; applying the same
// spec again changes nothing; drift is repaired; an empty spec removes
// the table.
func TestApplyConvergesAndIsIdempotent(t *testing.T) {
	c, ns := conn(t)
	if n, err := Apply(c, spec); err != nil || n != 1 {
		t.Fatalf("first Apply = %d, %v; want 1 change", n, err)
	}
	got := listed(t, ns)
	for _, want := range []string{
		"type filter hook input priority filter; policy accept;",
		"ct state invalid drop",
		"ct state established,related accept",
		`iifname "x2" ip saddr 169.254.10.2 accept`,
		`iifname "x2" drop`,
		`iifname "x3" ip saddr 169.254.11.2 accept`,
		`iifname "x3" ip6 saddr fd00::2 accept`,
		`iifname "x3" drop`,
		"ip daddr 192.0.2.2 tcp dport 22 accept",
		"ip daddr 192.0.2.2 tcp dport 443 accept",
		"ip daddr 192.0.2.2 icmp type echo-request accept",
		"ip daddr 192.0.2.2 drop",
		"ip daddr 198.51.100.2 drop",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "198.51.100.2 tcp dport") || strings.Contains(got, "198.51.100.2 icmp") {
		t.Errorf("management accepted on a monitoring address without allow-management:\n%s", got)
	}
	for i := 0; i < 3; i++ {
		if n, err := Apply(c, spec); err != nil || n != 0 {
			t.Fatalf("repeated Apply = %d, %v; want 0 changes", n, err)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "flush", "chain", "inet", TableName, ChainName).CombinedOutput(); err != nil {
		t.Fatalf("nft flush chain: %v: %s", err, out)
	}
	if n, err := Apply(c, spec); err != nil || n != 1 {
		t.Fatalf("Apply after drift = %d, %v; want 1 change", n, err)
	}
	if got := listed(t, ns); !strings.Contains(got, `iifname "x2" drop`) {
		t.Errorf("drift not repaired:\n%s", got)
	}
	if n, err := Apply(c, &sdk.FirewallSpec{}); err != nil || n != 1 {
		t.Fatalf("empty Apply = %d, %v; want 1 change", n, err)
	}
	if got := listed(t, ns); strings.Contains(got, "table inet tandem") {
		t.Errorf("table left after an empty spec:\n%s", got)
	}
	if n, err := Apply(c, &sdk.FirewallSpec{}); err != nil || n != 0 {
		t.Fatalf("second empty Apply = %d, %v; want 0", n, err)
	}
}

// A bad address in the spec is refused before anything is changed.
func TestBadSpecChangesNothing(t *testing.T) {
	c, ns := conn(t)
	bad := &sdk.FirewallSpec{HaLinks: []*sdk.HALinkFilter{{Netdev: "x2", PeerAddresses: []string{"not-an-ip"}}}}
	if _, err := Apply(c, bad); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Fatalf("Apply(bad) = %v, want an error naming the address", err)
	}
	if got := listed(t, ns); strings.Contains(got, "tandem") {
		t.Errorf("a refused spec changed the kernel:\n%s", got)
	}
}
