package expect

import (
	"fmt"
	"os"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// nsPrefix starts the names of the namespaces this package's tests create.
const nsPrefix = "expect"

// needRoot skips tests that need namespaces or the FTP helper, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	netnstest.NeedRoot(t, "creates network namespaces and writes kernel conntrack tables", "ip", "nft", "conntrack")
	if _, err := os.Stat("/sys/module/nf_conntrack_ftp"); err != nil {
		t.Skip("needs the kernel's FTP conntrack helper (nf_conntrack_ftp): " + err.Error())
	}
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
	cli, srv *netnstest.NS
	fws      []*netnstest.NS
}

func newTopology(t testing.TB, n int, nat bool) *topology {
	t.Helper()
	tp := &topology{cli: netnstest.New(t, nsPrefix, "cli"), srv: netnstest.New(t, nsPrefix, "srv")}
	tp.cli.Run(t, "ip", "addr", "add", clientAddr+"/32", "dev", "lo")
	tp.srv.Run(t, "ip", "addr", "add", serverAddr+"/32", "dev", "lo")
	for i := 1; i <= n; i++ {
		fw := netnstest.New(t, nsPrefix, fmt.Sprintf("fw%d", i))
		netnstest.Veth(t, tp.cli, fmt.Sprintf("tofw%d", i), fmt.Sprintf("10.201.%d.1/24", i), fw, "in", fmt.Sprintf("10.201.%d.254/24", i))
		netnstest.Veth(t, fw, "out", fmt.Sprintf("10.202.%d.254/24", i), tp.srv, fmt.Sprintf("tofw%d", i), fmt.Sprintf("10.202.%d.1/24", i))
		fw.Run(t, "ip", "addr", "add", vipAddr+"/32", "dev", "out")
		fw.Run(t, "ip", "route", "add", clientAddr+"/32", "via", fmt.Sprintf("10.201.%d.1", i))
		fw.Run(t, "ip", "route", "add", serverAddr+"/32", "via", fmt.Sprintf("10.202.%d.1", i))
		fw.Sysctl(t, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
			"net.netfilter.nf_conntrack_tcp_loose=0")
		fw.NFT(t, firewallRules(nat))
		tp.fws = append(tp.fws, fw)
	}
	tp.cli.Sysctl(t, "net.ipv4.conf.all.rp_filter=0")
	tp.srv.Sysctl(t, "net.ipv4.conf.all.rp_filter=0")
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
	tp.cli.Run(t, "ip", "route", verb, "default", "via", fmt.Sprintf("10.201.%d.254", i), "src", clientAddr)
	tp.srv.Run(t, "ip", "route", verb, vipAddr+"/32", "via", fmt.Sprintf("10.202.%d.254", i), "src", serverAddr)
	tp.srv.Run(t, "ip", "route", verb, clientAddr+"/32", "via", fmt.Sprintf("10.202.%d.254", i), "src", serverAddr)
}
