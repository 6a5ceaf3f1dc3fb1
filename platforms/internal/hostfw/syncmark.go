package hostfw

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// SyncMarkChain marks the connections stateful sync skips (SYNC-6). It
// hooks prerouting after connection tracking, so the mark is in the
// conntrack entry before the NEW event goes out.
const SyncMarkChain = "syncmark"

// syncMarkRules turns the exclusions into rules: entries with sync true
// first (their connections leave the chain unmarked), then the marking
// entries, each in name order.
func syncMarkRules(spec *sdk.FirewallSpec) ([]rule, error) {
	mark := spec.GetNoSyncMark()
	if mark == 0 || len(spec.GetSyncExclusions()) == 0 {
		return nil, nil
	}
	entries := slices.Clone(spec.GetSyncExclusions())
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].GetSync() != entries[j].GetSync() {
			return entries[i].GetSync()
		}
		return entries[i].GetName() < entries[j].GetName()
	})
	var out []rule
	for _, e := range entries {
		matches, err := exclusionMatches(e)
		if err != nil {
			return nil, fmt.Errorf("firewall: sync exclusion %q: %w", e.GetName(), err)
		}
		for _, m := range matches {
			verdict, what := []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}}, "return"
			if !e.GetSync() {
				verdict, what = setMarkBits(mark), fmt.Sprintf("ct mark set ct mark or %#x", mark)
			}
			out = append(out, rule{
				desc:  strings.TrimSpace(fmt.Sprintf("ct state new %s %s", m.desc, what)),
				exprs: concat(ctNew(), m.exprs, verdict),
			})
		}
	}
	return out, nil
}

// exclusionMatches returns the match parts of an entry: one per protocol
// it covers (a port without a protocol covers tcp and udp).
func exclusionMatches(e *sdk.SyncExclusion) ([]rule, error) {
	var base rule
	var fam netip.Prefix
	for _, p := range []struct {
		text string
		src  bool
	}{{e.GetSourcePrefix(), true}, {e.GetDestinationPrefix(), false}} {
		if p.text == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(p.text)
		if err != nil {
			return nil, fmt.Errorf("prefix %q: %w", p.text, err)
		}
		pfx = pfx.Masked()
		if fam.IsValid() && fam.Addr().Is4() != pfx.Addr().Is4() {
			return nil, fmt.Errorf("source and destination prefixes of different families")
		}
		fam = pfx
		dir := "daddr"
		if p.src {
			dir = "saddr"
		}
		base.desc += fmt.Sprintf("%s %s %s ", family(pfx.Addr()), dir, pfx)
		base.exprs = append(base.exprs, prefixMatch(pfx, p.src)...)
	}
	port := e.GetDestinationPort()
	if port > 65535 {
		return nil, fmt.Errorf("destination port %d out of range", port)
	}
	var protos []string
	switch e.GetProtocol() {
	case "", "any":
		if port != 0 {
			protos = []string{"tcp", "udp"}
		} else {
			protos = []string{""}
		}
	case "tcp", "udp":
		protos = []string{e.GetProtocol()}
	case "icmp":
		if port != 0 {
			return nil, fmt.Errorf("destination port %d with protocol icmp", port)
		}
		protos = []string{"icmp"}
	default:
		return nil, fmt.Errorf("protocol %q: use tcp, udp, icmp or any", e.GetProtocol())
	}
	var out []rule
	for _, proto := range protos {
		r := rule{desc: base.desc, exprs: slices.Clone(base.exprs)}
		switch proto {
		case "tcp", "udp":
			num := byte(unix.IPPROTO_TCP)
			if proto == "udp" {
				num = unix.IPPROTO_UDP
			}
			r.desc += proto + " "
			r.exprs = append(r.exprs, l4proto(num)...)
			if port != 0 {
				r.desc += fmt.Sprintf("dport %d ", port)
				r.exprs = append(r.exprs, dport(uint16(port))...)
			}
		case "icmp":
			num, name := byte(unix.IPPROTO_ICMP), "icmp"
			if fam.IsValid() && fam.Addr().Is6() {
				num, name = unix.IPPROTO_ICMPV6, "icmpv6"
			}
			r.desc += "meta l4proto " + name + " "
			r.exprs = append(r.exprs, l4proto(num)...)
		}
		out = append(out, r)
	}
	return out, nil
}

// ctNew matches ct state new.
func ctNew() []expr.Any {
	mask := make([]byte, 4)
	binary.NativeEndian.PutUint32(mask, expr.CtStateBitNEW)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// prefixMatch matches the source (src) or destination address against a
// prefix.
func prefixMatch(p netip.Prefix, src bool) []expr.Any {
	exprs := addr(p.Addr(), src)
	bits := p.Addr().BitLen()
	mask := make([]byte, bits/8)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	// addr loads the address then compares; put the mask in between.
	load, cmp := exprs[:3], exprs[3]
	return append(slices.Clone(load),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(mask)), Mask: mask, Xor: make([]byte, len(mask))},
		cmp)
}

// l4proto matches the transport protocol.
func l4proto(num byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{num}},
	}
}

// dport matches the transport destination port (after l4proto).
func dport(port uint16) []expr.Any {
	p := make([]byte, 2)
	binary.BigEndian.PutUint16(p, port)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p},
	}
}

// setMarkBits sets ct mark to ct mark | bits.
func setMarkBits(bits uint32) []expr.Any {
	mask, xor := make([]byte, 4), make([]byte, 4)
	binary.NativeEndian.PutUint32(mask, ^bits)
	binary.NativeEndian.PutUint32(xor, bits)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: xor},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK, SourceRegister: true},
	}
}
