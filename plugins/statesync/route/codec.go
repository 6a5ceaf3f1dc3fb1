package route

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/recdec"
)

// CodecVersion starts every key and value; a decoder refuses any other.
const CodecVersion = 1

// ErrCodec is wrapped by every decoding error.
var ErrCodec = errors.New("route record")

const (
	// ifnameMax is IFNAMSIZ - 1.
	ifnameMax = 15
	// maxNexthops is the most nexthops a record carries (a count byte).
	maxNexthops = 255

	hopGateway = 1 << 0
	hopKnown   = hopGateway
)

// Nexthop is one way to a route's destination.
type Nexthop struct {
	// Gateway is the next router; the zero Addr for a destination on
	// the link itself.
	Gateway netip.Addr
	// Ifname is the output interface's name; the standby maps it to its
	// own interface of that name (interface indexes differ per unit).
	Ifname string
	// Weight is the multipath weight, 1 to 256 (rtnh_hops + 1); a
	// single-path route ignores it.
	Weight int
}

// Route is one dynamic unicast route of a kernel routing table.
type Route struct {
	// Table is the kernel routing table. Version 1 carries the main
	// table (254) only.
	Table uint32
	// Dst is the destination prefix, host bits zero.
	Dst netip.Prefix
	// TOS is the IPv4 type of service the route matches (0 for IPv6).
	TOS uint8
	// Priority is the route's metric (RTA_PRIORITY). With Table, Dst and
	// TOS it identifies the route, as in the kernel. The Sink installs
	// the route with Priority + MetricOffset.
	Priority uint32
	// Protocol is the rtnetlink protocol of the daemon that learned the
	// route on the active (RTPROT_OSPF...); see Dynamic.
	Protocol uint8
	// Scope is the route's scope: universe, or link for a destination
	// on the link itself.
	Scope uint8
	// Nexthops are the route's paths, more than one for a multipath
	// route.
	Nexthops []Nexthop
}

func (r *Route) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s metric %d proto %d", r.Dst, r.Priority, r.Protocol)
	if r.TOS != 0 {
		fmt.Fprintf(&b, " tos %#x", r.TOS)
	}
	for _, h := range r.Nexthops {
		if h.Gateway.IsValid() {
			fmt.Fprintf(&b, " via %s", h.Gateway)
		}
		fmt.Fprintf(&b, " dev %s", h.Ifname)
	}
	return b.String()
}

// Dynamic reports whether routes of rtnetlink protocol p were learned
// by a routing daemon and are synced: gated, mrt, zebra, bird, xorp,
// ntk, babel, openr (linux/rtnetlink.h) and FRR's per-daemon protocols
// bgp, isis, ospf, rip, ripng, nhrp, eigrp and openfabric
// (frr/zebra/rt_netlink.h). Not synced: kernel, boot, static, redirect,
// dhcp and ra (each unit learns or is configured with its own),
// keepalived and FRR's staticd (configuration present on both units),
// multicast, MPLS (ldp) and test daemons (sharp), and Protocol.
func Dynamic(p uint8) bool {
	switch p {
	case unix.RTPROT_GATED, unix.RTPROT_MRT, unix.RTPROT_ZEBRA, unix.RTPROT_BIRD, unix.RTPROT_XORP,
		unix.RTPROT_NTK, unix.RTPROT_BABEL, unix.RTPROT_OPENR, unix.RTPROT_BGP, unix.RTPROT_ISIS,
		unix.RTPROT_OSPF, unix.RTPROT_RIP, rtprotRIPng, rtprotNHRP, unix.RTPROT_EIGRP, rtprotOpenFabric:
		return true
	}
	return false
}

// FRR's protocols that linux/rtnetlink.h lacks.
const (
	rtprotRIPng      = 190
	rtprotNHRP       = 191
	rtprotOpenFabric = 197
)

func famByte(a netip.Addr) byte {
	if a.Is4() {
		return 4
	}
	return 6
}

// Key layout: version, family (4/6), table (4), prefix length, address
// (4 or 16 bytes, host bits zero), TOS, priority (4).
//
// Value layout: version, protocol, scope, nexthop count (1 to 255), then
// per nexthop: flags (bit 0: gateway), weight - 1, interface name length
// and name, gateway (4 or 16 bytes) if flagged.

// AppendKey appends r's record key.
func AppendKey(b []byte, r *Route) []byte {
	b = append(b, CodecVersion, famByte(r.Dst.Addr()))
	b = binary.BigEndian.AppendUint32(b, r.Table)
	b = append(b, byte(r.Dst.Bits()))
	b = append(b, r.Dst.Addr().AsSlice()...)
	b = append(b, r.TOS)
	return binary.BigEndian.AppendUint32(b, r.Priority)
}

// AppendValue appends r's record value.
func AppendValue(b []byte, r *Route) []byte {
	b = append(b, CodecVersion, r.Protocol, r.Scope, byte(len(r.Nexthops)))
	for _, h := range r.Nexthops {
		var flags byte
		if h.Gateway.IsValid() {
			flags |= hopGateway
		}
		b = append(b, flags, byte(max(h.Weight, 1)-1), byte(len(h.Ifname)))
		b = append(b, h.Ifname...)
		if h.Gateway.IsValid() {
			b = append(b, h.Gateway.AsSlice()...)
		}
	}
	return b
}

// UpsertRecord is the record that installs r on the standby.
func UpsertRecord(r *Route) channel.Record {
	return channel.Record{Op: channel.Upsert, Key: AppendKey(nil, r), Value: AppendValue(nil, r)}
}

// DeleteRecord is the record that removes r from the standby.
func DeleteRecord(r *Route) channel.Record {
	return channel.Record{Op: channel.Delete, Key: AppendKey(nil, r)}
}

// decoder reads a record; the first error sticks.
type decoder struct{ recdec.Decoder }

func (d *decoder) ifname(what string) string {
	n := int(d.U8(what + " length"))
	if d.Err == nil && (n == 0 || n > ifnameMax) {
		d.Fail("%s length %d, want 1 to %d", what, n, ifnameMax)
	}
	v := d.Bytes(n, what)
	for _, c := range v {
		if c <= ' ' || c > '~' || c == '/' || c == ':' {
			d.Fail("%s has byte %#x", what, c)
			break
		}
	}
	return string(v)
}

// DecodeKey decodes a record key into a Route with Table, Dst, TOS and
// Priority set.
func DecodeKey(key []byte) (Route, error) {
	var r Route
	d := decoder{recdec.Decoder{B: key, Sentinel: ErrCodec}}
	if v := d.U8("key version"); d.Err == nil && v != CodecVersion {
		d.Fail("key version %d, this unit speaks %d", v, CodecVersion)
	}
	alen := 0
	switch fam := d.U8("key family"); {
	case d.Err != nil:
	case fam == 4:
		alen = 4
	case fam == 6:
		alen = 16
	default:
		d.Fail("key family %d, want 4 or 6", fam)
	}
	if r.Table = d.BE32("key table"); d.Err == nil && r.Table != unix.RT_TABLE_MAIN {
		d.Fail("key table %d, version %d carries the main table (%d) only", r.Table, CodecVersion, unix.RT_TABLE_MAIN)
	}
	bits := int(d.U8("key prefix length"))
	if d.Err == nil && bits > alen*8 {
		d.Fail("key prefix length %d, want at most %d", bits, alen*8)
	}
	if a := d.Addr(alen, "key destination"); d.Err == nil {
		r.Dst = netip.PrefixFrom(a, bits)
		if r.Dst.Masked() != r.Dst {
			d.Fail("key destination %s has host bits set", r.Dst)
		}
	}
	r.TOS = d.U8("key TOS")
	r.Priority = d.BE32("key priority")
	switch {
	case d.Err != nil:
	case alen == 16 && r.TOS != 0:
		d.Fail("key TOS %#x on an IPv6 route", r.TOS)
	case alen == 16 && r.Priority == 0:
		d.Fail("key priority 0 on an IPv6 route (the kernel makes it 1024)")
	case len(d.B) != 0:
		d.Fail("key has %d trailing bytes", len(d.B))
	}
	if d.Err != nil {
		return Route{}, d.Err
	}
	return r, nil
}

// Decode decodes an Upsert record. It accepts only what AppendKey and
// AppendValue produce: records come from the peer over the network.
func Decode(key, value []byte) (Route, error) {
	r, err := DecodeKey(key)
	if err != nil {
		return Route{}, err
	}
	alen := r.Dst.Addr().BitLen() / 8
	d := decoder{recdec.Decoder{B: value, Sentinel: ErrCodec}}
	if v := d.U8("value version"); d.Err == nil && v != CodecVersion {
		d.Fail("value version %d, this unit speaks %d", v, CodecVersion)
	}
	if r.Protocol = d.U8("value protocol"); d.Err == nil && !Dynamic(r.Protocol) {
		d.Fail("value protocol %d is not a dynamic routing protocol", r.Protocol)
	}
	if r.Scope = d.U8("value scope"); d.Err == nil && r.Scope != unix.RT_SCOPE_UNIVERSE && r.Scope != unix.RT_SCOPE_LINK {
		d.Fail("value scope %d, want universe (0) or link (%d)", r.Scope, unix.RT_SCOPE_LINK)
	}
	n := int(d.U8("value nexthop count"))
	if d.Err == nil && n == 0 {
		d.Fail("value has no nexthop")
	}
	for i := 0; i < n && d.Err == nil; i++ {
		what := fmt.Sprintf("nexthop %d", i)
		flags := d.U8(what + " flags")
		if d.Err == nil && flags&^hopKnown != 0 {
			d.Fail("%s has unknown flags %#x", what, flags&^hopKnown)
		}
		h := Nexthop{Weight: int(d.U8(what+" weight")) + 1, Ifname: d.ifname(what + " interface name")}
		if flags&hopGateway != 0 {
			h.Gateway = d.Addr(alen, what+" gateway")
			if d.Err == nil && (h.Gateway.IsUnspecified() || h.Gateway.IsMulticast()) {
				d.Fail("%s gateway %s", what, h.Gateway)
			}
		}
		r.Nexthops = append(r.Nexthops, h)
	}
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("value has %d trailing bytes", len(d.B))
	}
	if d.Err != nil {
		return Route{}, d.Err
	}
	return r, nil
}
