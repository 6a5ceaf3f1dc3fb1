// Package hostfw programs the unit's own nftables rules for the
// Linux-based platform drivers: the implicit rule that accepts only the
// members' traffic on HA links (SEC-3), the monitoring-address rules that
// accept management only where allowed (MON-3), and the marks of the
// connections stateful sync skips (SYNC-6). The rules live in their own
// table, inet tandem, replaced atomically in one netlink batch when they
// differ from the spec and left alone when they do not.
package hostfw

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Table and chain holding the rules.
const (
	TableName = "tandem"
	ChainName = "input"
)

// rule is one nftables rule with a canonical description, kept in the
// rule's user data so that the kernel's rules can be compared with the
// spec without decoding expressions.
type rule struct {
	desc  string
	exprs []expr.Any
}

// Apply makes the kernel hold exactly the rules of spec and returns the
// number of kernel changes: 0 when they already match, 1 when the table
// was replaced or removed.
func Apply(c *nftables.Conn, spec *sdk.FirewallSpec) (int, error) {
	input, err := rules(spec)
	if err != nil {
		return 0, err
	}
	marks, err := syncMarkRules(spec)
	if err != nil {
		return 0, err
	}
	have, exists, err := current(c)
	if err != nil {
		return 0, err
	}
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	if len(input) == 0 && len(marks) == 0 {
		if !exists {
			return 0, nil
		}
		c.DelTable(table)
		return 1, flush(c)
	}
	if exists && slices.Equal(have, append(descs(ChainName, input), descs(SyncMarkChain, marks)...)) {
		return 0, nil
	}
	if exists {
		c.DelTable(table)
	}
	c.AddTable(table)
	policy := nftables.ChainPolicyAccept
	for _, ch := range []struct {
		name  string
		hook  *nftables.ChainHook
		prio  *nftables.ChainPriority
		rules []rule
	}{
		{ChainName, nftables.ChainHookInput, nftables.ChainPriorityFilter, input},
		{SyncMarkChain, nftables.ChainHookPrerouting, nftables.ChainPriorityMangle, marks},
	} {
		if len(ch.rules) == 0 {
			continue
		}
		chain := c.AddChain(&nftables.Chain{
			Name: ch.name, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: ch.hook, Priority: ch.prio, Policy: &policy,
		})
		for _, r := range ch.rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: r.exprs, UserData: []byte(r.desc)})
		}
	}
	return 1, flush(c)
}

func flush(c *nftables.Conn) error {
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table inet %s: %w", TableName, err)
	}
	return nil
}

// current returns the descriptions of the rules in the kernel's chains
// (prefixed with the chain's name) and whether the table exists.
func current(c *nftables.Conn) ([]string, bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, false, fmt.Errorf("nftables: list tables: %w", err)
	}
	var table *nftables.Table
	for _, t := range tables {
		if t.Name == TableName {
			table = t
		}
	}
	if table == nil {
		return nil, false, nil
	}
	var out []string
	for _, chain := range []string{ChainName, SyncMarkChain} {
		rs, err := c.GetRules(table, &nftables.Chain{Name: chain, Table: table})
		if err != nil {
			continue // no such chain
		}
		for _, r := range rs {
			out = append(out, chain+": "+string(r.UserData))
		}
	}
	return out, true, nil
}

// descs returns the descriptions of rules in chain, as current does.
func descs(chain string, rs []rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = chain + ": " + r.desc
	}
	return out
}

// rules turns the spec into rules, in a deterministic order: invalid
// packets dropped and replies accepted first, then each HA link's peers
// and its drop, then each monitoring address's management ports and its
// drop.
//
// The invalid drop keeps the unit's own TCP stack out of forwarded
// sessions: a packet of a flow whose tracking the unit lost or holds in a
// state the packet does not fit (conntrack INVALID, with
// nf_conntrack_tcp_loose=0 any mid-stream packet without an entry) would
// otherwise be delivered to a virtual address the unit holds and be
// answered with a reset, ending a session the peer is carrying on. It
// did, in about one hand-over in ten after a restarted standby (found by
// TestRollingUpgradeKeepsSessions).
func rules(spec *sdk.FirewallSpec) ([]rule, error) {
	var out []rule
	if len(spec.GetHaLinks()) == 0 && len(spec.GetMonitoring()) == 0 {
		return nil, nil
	}
	out = append(out,
		rule{"ct state invalid drop", concat(ctState(expr.CtStateBitINVALID), drop())},
		rule{"ct state established,related accept", concat(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept())})
	links := slices.Clone(spec.GetHaLinks())
	sort.Slice(links, func(i, j int) bool { return links[i].GetNetdev() < links[j].GetNetdev() })
	for _, l := range links {
		if l.GetNetdev() == "" {
			return nil, fmt.Errorf("firewall: HA link without netdev")
		}
		peers := slices.Clone(l.GetPeerAddresses())
		sort.Strings(peers)
		for _, p := range peers {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return nil, fmt.Errorf("firewall: HA link %s: peer address %q: %w", l.GetNetdev(), p, err)
			}
			out = append(out, rule{
				fmt.Sprintf("iifname %s %s saddr %s accept", l.GetNetdev(), family(a), a),
				concat(iifname(l.GetNetdev()), addr(a, true), accept()),
			})
		}
		out = append(out, rule{fmt.Sprintf("iifname %s drop", l.GetNetdev()), concat(iifname(l.GetNetdev()), drop())})
	}
	mons := slices.Clone(spec.GetMonitoring())
	sort.Slice(mons, func(i, j int) bool { return mons[i].GetAddress() < mons[j].GetAddress() })
	for _, m := range mons {
		a, err := netip.ParseAddr(m.GetAddress())
		if err != nil {
			return nil, fmt.Errorf("firewall: monitoring address %q: %w", m.GetAddress(), err)
		}
		if m.GetAllowManagement() {
			ports := slices.Clone(m.GetManagementTcpPorts())
			slices.Sort(ports)
			for _, port := range ports {
				if port == 0 || port > 65535 {
					return nil, fmt.Errorf("firewall: monitoring address %s: management port %d out of range", a, port)
				}
				out = append(out, rule{
					fmt.Sprintf("%s daddr %s tcp dport %d accept", family(a), a, port),
					concat(addr(a, false), tcpDport(uint16(port)), accept()),
				})
			}
			out = append(out, rule{
				fmt.Sprintf("%s daddr %s echo-request accept", family(a), a),
				concat(addr(a, false), echoRequest(a.Is4()), accept()),
			})
		}
		out = append(out, rule{fmt.Sprintf("%s daddr %s drop", family(a), a), concat(addr(a, false), drop())})
	}
	return out, nil
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "ip"
	}
	return "ip6"
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
