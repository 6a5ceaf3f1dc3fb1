package route

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/nlsock"
)

// Protocol is the rtnetlink route protocol the Sink installs its routes
// with, 116 (0x74, the neighbour channel's tag too): `ip route show proto
// 116` lists them. No value between 100 and 185 is named in
// linux/rtnetlink.h, iproute2's rt_protos or FRR's rt_netlink.h, and no
// routing daemon we know of uses it, so a route carrying it is the
// Sink's; the kernel matches the protocol of a deletion, so the Sink's
// deletions cannot touch another route.
const Protocol = 116

// Sizes of the rtnetlink structs (linux/rtnetlink.h).
const (
	rtmsgLen  = unix.SizeofRtMsg
	rtnhLen   = unix.SizeofRtNexthop
	rtnhAlign = unix.RTNH_ALIGNTO
)

// dial opens a NETLINK_ROUTE socket in network namespace netns (0: the
// caller's) joined to groups.
func dial(netns int, groups ...uint32) (*netlink.Conn, error) {
	return nlsock.Dial(unix.NETLINK_ROUTE, "rtnetlink", netns, groups...)
}

// khop is a kernel route's nexthop.
type khop struct {
	ifindex int32
	gw      netip.Addr
	hops    uint8
}

// kroute is a kernel route as rtnetlink reports it.
type kroute struct {
	family, dstLen, srcLen, tos uint8
	protocol, scope, typ        uint8
	flags                       uint32
	table                       uint32
	dst                         netip.Addr
	priority                    uint32
	hops                        []khop
	// odd is set for what a Route cannot carry: a gateway of the other
	// family (RTA_VIA) or a nexthop without an interface. A route that
	// uses a nexthop object (RTA_NH_ID) and is reported without its
	// nexthops (sysctl net.ipv4.nexthop_compat_mode=0) has no hops.
	odd bool
}

// key is the route's identity as a Route carries it.
func (k *kroute) key() Route {
	return Route{Table: k.table, Dst: netip.PrefixFrom(k.dst, int(k.dstLen)).Masked(), TOS: k.tos, Priority: k.priority}
}

// parseRoute decodes an RTM_NEWROUTE/RTM_DELROUTE payload. ok is false
// for routes of another family.
func parseRoute(b []byte) (k kroute, ok bool, err error) {
	if len(b) < rtmsgLen {
		return k, false, fmt.Errorf("route message of %d bytes", len(b))
	}
	k.family, k.dstLen, k.srcLen, k.tos = b[0], b[1], b[2], b[3]
	k.table, k.protocol, k.scope, k.typ = uint32(b[4]), b[5], b[6], b[7]
	k.flags = binary.NativeEndian.Uint32(b[8:])
	alen := 0
	switch k.family {
	case unix.AF_INET:
		alen = 4
	case unix.AF_INET6:
		alen = 16
	default:
		return k, false, nil
	}
	k.dst = netip.IPv4Unspecified()
	if alen == 16 {
		k.dst = netip.IPv6Unspecified()
	}
	if int(k.dstLen) > alen*8 {
		return k, false, fmt.Errorf("route prefix length %d in family %d", k.dstLen, k.family)
	}
	addr := func(v []byte, what string) (netip.Addr, error) {
		a, okA := netip.AddrFromSlice(v)
		if !okA || len(v) != alen {
			return a, fmt.Errorf("route %s of %d bytes in family %d", what, len(v), k.family)
		}
		return a, nil
	}
	var single khop
	ad, err := netlink.NewAttributeDecoder(b[rtmsgLen:])
	if err != nil {
		return k, false, fmt.Errorf("route attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.RTA_DST:
			if k.dst, err = addr(ad.Bytes(), "destination"); err != nil {
				return k, false, err
			}
		case unix.RTA_TABLE:
			k.table = ad.Uint32()
		case unix.RTA_PRIORITY:
			k.priority = ad.Uint32()
		case unix.RTA_OIF:
			single.ifindex = int32(ad.Uint32())
		case unix.RTA_GATEWAY:
			if single.gw, err = addr(ad.Bytes(), "gateway"); err != nil {
				return k, false, err
			}
		case unix.RTA_MULTIPATH:
			if k.hops, err = parseMultipath(ad.Bytes(), addr); err != nil {
				return k, false, err
			}
		case unix.RTA_VIA:
			k.odd = true
		}
	}
	if err := ad.Err(); err != nil {
		return k, false, fmt.Errorf("route attributes: %w", err)
	}
	if k.hops == nil && single.ifindex != 0 {
		k.hops = []khop{single}
	}
	for _, h := range k.hops {
		k.odd = k.odd || h.ifindex == 0
	}
	return k, true, nil
}

// parseMultipath decodes RTA_MULTIPATH: struct rtnexthop entries, each
// followed by its own attributes.
func parseMultipath(b []byte, addr func([]byte, string) (netip.Addr, error)) ([]khop, error) {
	var out []khop
	for len(b) > 0 {
		if len(b) < rtnhLen {
			return nil, fmt.Errorf("route nexthop of %d bytes", len(b))
		}
		l := int(binary.NativeEndian.Uint16(b))
		if l < rtnhLen || l > len(b) {
			return nil, fmt.Errorf("route nexthop length %d of %d bytes", l, len(b))
		}
		h := khop{hops: b[3], ifindex: int32(binary.NativeEndian.Uint32(b[4:]))}
		ad, err := netlink.NewAttributeDecoder(b[rtnhLen:l])
		if err != nil {
			return nil, fmt.Errorf("route nexthop attributes: %w", err)
		}
		for ad.Next() {
			if ad.Type() == unix.RTA_GATEWAY {
				if h.gw, err = addr(ad.Bytes(), "nexthop gateway"); err != nil {
					return nil, err
				}
			}
		}
		if err := ad.Err(); err != nil {
			return nil, fmt.Errorf("route nexthop attributes: %w", err)
		}
		out = append(out, h)
		b = b[min(len(b), (l+rtnhAlign-1)&^(rtnhAlign-1)):]
	}
	return out, nil
}

// dumpRoutes reads the routes of every table of both families.
func dumpRoutes(ctx context.Context, c *netlink.Conn) ([]kroute, error) {
	out, err := nlsock.Dump(ctx, c, unix.RTM_GETROUTE, unix.RTM_NEWROUTE, rtmsgLen, parseRoute)
	if err != nil {
		return nil, fmt.Errorf("route dump: %w", err)
	}
	return out, nil
}

// hop is a Nexthop with the standby's interface index.
type hop struct {
	ifindex int32
	Nexthop
}

// rtmsg builds the struct rtmsg of a request about r.
func rtmsg(r *Route, protocol, scope, typ uint8) []byte {
	b := make([]byte, rtmsgLen)
	b[0] = unix.AF_INET
	if r.Dst.Addr().Is6() {
		b[0] = unix.AF_INET6
	}
	b[1], b[3], b[5], b[6], b[7] = byte(r.Dst.Bits()), r.TOS, protocol, scope, typ
	b[4] = unix.RT_TABLE_UNSPEC
	if r.Table < 256 {
		b[4] = byte(r.Table)
	}
	return b
}

// keyAttrs encodes the attributes that identify r.
func keyAttrs(ae *netlink.AttributeEncoder, r *Route) {
	if r.Dst.Bits() > 0 {
		ae.Bytes(unix.RTA_DST, r.Dst.Addr().AsSlice())
	}
	ae.Uint32(unix.RTA_TABLE, r.Table)
	ae.Uint32(unix.RTA_PRIORITY, r.Priority)
}

// newRouteMessage builds the RTM_NEWROUTE payload that installs r via
// hops, tagged Protocol. Every gateway is installed on-link: the standby
// need not hold an address in the gateway's subnet (the virtual
// addresses are on the active only), and the route must be usable the
// moment it takes over.
func newRouteMessage(r *Route, hops []hop) []byte {
	b := rtmsg(r, Protocol, r.Scope, unix.RTN_UNICAST)
	ae := netlink.NewAttributeEncoder()
	keyAttrs(ae, r)
	if len(hops) == 1 {
		ae.Uint32(unix.RTA_OIF, uint32(hops[0].ifindex))
		if hops[0].Gateway.IsValid() {
			ae.Bytes(unix.RTA_GATEWAY, hops[0].Gateway.AsSlice())
			binary.NativeEndian.PutUint32(b[8:], unix.RTNH_F_ONLINK)
		}
	} else {
		var mp []byte
		for _, h := range hops {
			var gw []byte
			var flags uint8
			if h.Gateway.IsValid() {
				hae := netlink.NewAttributeEncoder()
				hae.Bytes(unix.RTA_GATEWAY, h.Gateway.AsSlice())
				gw, _ = hae.Encode() // one fixed-size attribute: cannot fail
				flags = unix.RTNH_F_ONLINK
			}
			nh := make([]byte, rtnhLen)
			binary.NativeEndian.PutUint16(nh, uint16(rtnhLen+len(gw)))
			nh[2], nh[3] = flags, byte(max(h.Weight, 1)-1)
			binary.NativeEndian.PutUint32(nh[4:], uint32(h.ifindex))
			mp = append(append(mp, nh...), gw...)
		}
		ae.Bytes(unix.RTA_MULTIPATH, mp)
	}
	attrs, _ := ae.Encode() // well-formed attributes: cannot fail
	return append(b, attrs...)
}

// delRouteMessage builds the RTM_DELROUTE payload that removes the route
// with r's key, only if it carries Protocol: the kernel matches the
// protocol, so no other route is ever removed.
func delRouteMessage(r *Route) []byte {
	b := rtmsg(r, Protocol, unix.RT_SCOPE_NOWHERE, 0)
	ae := netlink.NewAttributeEncoder()
	keyAttrs(ae, r)
	attrs, _ := ae.Encode() // fixed-size attributes: cannot fail
	return append(b, attrs...)
}
