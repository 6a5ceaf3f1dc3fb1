package conntrack

import (
	"fmt"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// nsPrefix starts the names of the namespaces this package's tests create.
const nsPrefix = "ctsync"

// needRoot skips tests that need namespaces, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	netnstest.NeedRoot(t, "creates network namespaces and writes kernel conntrack tables", "ip", "nft", "conntrack")
}

// Addresses of the test topology: the client and the server have one
// address each on their loopback; each firewall has an inside link to
// the client and an outside link to the server, and carries the shared
// SNAT address (the virtual IP) outside.
const (
	clientAddr = "10.200.0.1"
	serverAddr = "10.200.9.1"
	vipAddr    = "10.200.5.1"
)

// firewallRules is the stateful policy of a firewall: forward only
// established/related traffic, plus new connections from the inside; SNAT
// everything leaving outside to the shared address.
const firewallRules = `
table inet filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "in" ct state new accept
	}
}
table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100;
		oifname "out" snat to ` + vipAddr + `
	}
}
`

// topology is client -> fw(s) -> server.
type topology struct {
	cli, srv *netnstest.NS
	fws      []*netnstest.NS
}

// newTopology builds a client and a server joined by n alternative
// firewalls; routes go through the first.
func newTopology(t testing.TB, n int) *topology {
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
		fw.NFT(t, firewallRules)
		tp.fws = append(tp.fws, fw)
	}
	tp.cli.Sysctl(t, "net.ipv4.conf.all.rp_filter=0")
	tp.srv.Sysctl(t, "net.ipv4.conf.all.rp_filter=0")
	tp.routeVia(t, 1, false)
	return tp
}

// routeVia points the client's and the server's routes at firewall i
// (1-based): the takeover as the neighbours see it.
func (tp *topology) routeVia(t testing.TB, i int, replace bool) {
	t.Helper()
	verb := "add"
	if replace {
		verb = "replace"
	}
	tp.cli.Run(t, "ip", "route", verb, "default", "via", fmt.Sprintf("10.201.%d.254", i), "src", clientAddr)
	tp.srv.Run(t, "ip", "route", verb, vipAddr+"/32", "via", fmt.Sprintf("10.202.%d.254", i), "src", serverAddr)
}

// flows decodes the records r holds of protocol proto: upserts and the
// keys of deletes.
func flows(t testing.TB, r *netnstest.Recorder, proto uint8) (ups []Flow, dels []Tuple) {
	t.Helper()
	for _, rec := range r.Records() {
		if rec.Op == channel.Delete {
			orig, _, _, err := DecodeKey(rec.Key)
			if err != nil {
				t.Fatalf("emitted delete key does not decode: %v", err)
			}
			if orig.Proto == proto {
				dels = append(dels, orig)
			}
			continue
		}
		f, err := Decode(rec.Key, rec.Value)
		if err != nil {
			t.Fatalf("emitted record does not decode: %v", err)
		}
		if f.Orig.Proto == proto {
			ups = append(ups, f)
		}
	}
	return ups, dels
}
