package expect

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/nlsock"
)

// ctnetlink expectation subsystem (include/uapi/linux/netfilter/
// nfnetlink_conntrack.h, nfnetlink.h).
const (
	subsysExp = 2
	expNew    = 0
	expGet    = 1
	expDelete = 2

	groupExpNew     = 4
	groupExpDestroy = 6

	ctaExpMaster   = 1
	ctaExpTuple    = 2
	ctaExpMask     = 3
	ctaExpTimeout  = 4
	ctaExpHelpName = 6
	ctaExpZone     = 7
	ctaExpFlags    = 8
	ctaExpClass    = 9
	ctaExpNAT      = 10
	ctaExpFn       = 11

	ctaExpNATDir   = 1
	ctaExpNATTuple = 2

	ctaTupleIP    = 1
	ctaTupleProto = 2
	ctaIPv4Src    = 1
	ctaIPv4Dst    = 2
	ctaIPv6Src    = 3
	ctaIPv6Dst    = 4
	ctaProtoNum   = 1
	ctaProtoSport = 2
	ctaProtoDport = 3

	nfgenLen = 4
)

// msgType is the netlink message type of expectation message m.
func msgType(m uint16) netlink.HeaderType { return netlink.HeaderType(subsysExp<<8 | m) }

// dial opens a NETLINK_NETFILTER socket in network namespace netns (0:
// the caller's) joined to groups.
func dial(netns int, groups ...uint32) (*netlink.Conn, error) {
	return nlsock.Dial(unix.NETLINK_NETFILTER, "ctnetlink", netns, groups...)
}

// execute sends m and returns the answers; ctx bounds the wait.
func execute(ctx context.Context, c *netlink.Conn, m netlink.Message) ([]netlink.Message, error) {
	return nlsock.Execute(ctx, c, m)
}

// nfgen is an nfgenmsg for family fam.
func nfgen(fam uint8) []byte { return []byte{fam, 0, 0, 0} }

// errMalformed is wrapped by every error about a kernel message.
var errMalformed = errors.New("malformed ctnetlink expectation")

// parseExpectation decodes an expectation message payload (nfgenmsg and
// attributes).
func parseExpectation(b []byte) (Expectation, error) {
	var x Expectation
	if len(b) < nfgenLen {
		return x, fmt.Errorf("%w: %d bytes", errMalformed, len(b))
	}
	fam := b[0]
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		return x, fmt.Errorf("%w: family %d", errMalformed, fam)
	}
	ad, err := netlink.NewAttributeDecoder(b[nfgenLen:])
	if err != nil {
		return x, fmt.Errorf("%w: %v", errMalformed, err)
	}
	ad.ByteOrder = binary.BigEndian
	var have int
	var mask Tuple
	for ad.Next() {
		switch ad.Type() {
		case ctaExpMaster:
			x.Master, err = parseTuple(fam, ad.Bytes())
			have |= 1
		case ctaExpTuple:
			x.Tuple, err = parseTuple(fam, ad.Bytes())
			have |= 2
		case ctaExpMask:
			mask, err = parseTuple(fam, ad.Bytes())
			x.MaskAddr, x.MaskPort = mask.Src, mask.SrcPort
			have |= 4
		case ctaExpTimeout:
			x.Timeout = ad.Uint32()
		case ctaExpZone:
			x.Zone = ad.Uint16()
		case ctaExpFlags:
			x.Flags = ad.Uint32()
		case ctaExpClass:
			x.Class = ad.Uint32()
		case ctaExpHelpName:
			x.Helper = ad.String()
		case ctaExpFn:
			x.Fn = ad.String()
		case ctaExpNAT:
			x.NAT, err = parseNAT(fam, ad.Bytes())
		}
		if err != nil {
			return Expectation{}, err
		}
	}
	if err := ad.Err(); err != nil {
		return Expectation{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if have != 7 {
		return Expectation{}, fmt.Errorf("%w: master, tuple or mask missing", errMalformed)
	}
	return x, nil
}

func parseNAT(fam uint8, b []byte) (*NAT, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, fmt.Errorf("%w: NAT: %v", errMalformed, err)
	}
	ad.ByteOrder = binary.BigEndian
	n := &NAT{}
	for ad.Next() {
		switch ad.Type() {
		case ctaExpNATDir:
			n.Dir = uint8(ad.Uint32())
		case ctaExpNATTuple:
			t, err := parseTuple(fam, ad.Bytes())
			if err != nil {
				return nil, err
			}
			n.Addr, n.Port = t.Src, t.SrcPort
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("%w: NAT: %v", errMalformed, err)
	}
	if !n.Addr.IsValid() {
		return nil, fmt.Errorf("%w: NAT without tuple", errMalformed)
	}
	return n, nil
}

func parseTuple(fam uint8, b []byte) (Tuple, error) {
	var t Tuple
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return t, fmt.Errorf("%w: tuple: %v", errMalformed, err)
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleIP:
			ad.Nested(func(ip *netlink.AttributeDecoder) error {
				for ip.Next() {
					a, ok := netip.AddrFromSlice(ip.Bytes())
					if !ok || a.Is4() != (fam == unix.AF_INET) {
						return fmt.Errorf("%w: address of %d bytes in family %d", errMalformed, len(ip.Bytes()), fam)
					}
					switch ip.Type() {
					case ctaIPv4Src, ctaIPv6Src:
						t.Src = a
					case ctaIPv4Dst, ctaIPv6Dst:
						t.Dst = a
					}
				}
				return nil
			})
		case ctaTupleProto:
			ad.Nested(func(p *netlink.AttributeDecoder) error {
				p.ByteOrder = binary.BigEndian
				for p.Next() {
					switch p.Type() {
					case ctaProtoNum:
						t.Proto = p.Uint8()
					case ctaProtoSport:
						t.SrcPort = p.Uint16()
					case ctaProtoDport:
						t.DstPort = p.Uint16()
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return Tuple{}, fmt.Errorf("%w: tuple: %v", errMalformed, err)
	}
	if !t.Src.IsValid() || !t.Dst.IsValid() {
		return Tuple{}, fmt.Errorf("%w: tuple without both addresses", errMalformed)
	}
	return t, nil
}

// putTuple encodes t as nested attribute typ.
func putTuple(ae *netlink.AttributeEncoder, typ uint16, t Tuple) {
	ae.Nested(typ, func(n *netlink.AttributeEncoder) error {
		n.Nested(ctaTupleIP, func(ip *netlink.AttributeEncoder) error {
			if t.Src.Is4() {
				ip.Bytes(ctaIPv4Src, t.Src.AsSlice())
				ip.Bytes(ctaIPv4Dst, t.Dst.AsSlice())
			} else {
				ip.Bytes(ctaIPv6Src, t.Src.AsSlice())
				ip.Bytes(ctaIPv6Dst, t.Dst.AsSlice())
			}
			return nil
		})
		n.Nested(ctaTupleProto, func(p *netlink.AttributeEncoder) error {
			p.ByteOrder = binary.BigEndian
			p.Uint8(ctaProtoNum, t.Proto)
			p.Uint16(ctaProtoSport, t.SrcPort)
			p.Uint16(ctaProtoDport, t.DstPort)
			return nil
		})
		return nil
	})
}

// fullMask is an all-ones address of a's family.
func fullMask(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	var b [16]byte
	for i := range b {
		b[i] = 0xff
	}
	return netip.AddrFrom16(b)
}

// zeroAddr is the unspecified address of a's family.
func zeroAddr(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// createMessage encodes a request that creates x, or, if it exists,
// sets its timeout (the kernel starts a created expectation with its
// helper's default timeout). withHelper names the master's helper, which
// also sets the expectation's class and attaches that helper to the
// expected connection.
func createMessage(x *Expectation, timeout uint32, withHelper bool) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	putTuple(ae, ctaExpMaster, x.Master)
	putTuple(ae, ctaExpTuple, x.Tuple)
	putTuple(ae, ctaExpMask, Tuple{Src: x.MaskAddr, Dst: fullMask(x.MaskAddr), Proto: x.Tuple.Proto, SrcPort: x.MaskPort, DstPort: 0xffff})
	ae.Uint32(ctaExpTimeout, timeout)
	if x.Zone != 0 {
		ae.Uint16(ctaExpZone, x.Zone)
	}
	ae.Uint32(ctaExpFlags, x.Flags)
	if withHelper && x.Helper != "" {
		ae.String(ctaExpHelpName, x.Helper)
		ae.Uint32(ctaExpClass, x.Class)
	}
	if x.Fn != "" {
		ae.String(ctaExpFn, x.Fn)
	}
	if x.NAT != nil {
		ae.Nested(ctaExpNAT, func(n *netlink.AttributeEncoder) error {
			n.ByteOrder = binary.BigEndian
			n.Uint32(ctaExpNATDir, uint32(x.NAT.Dir))
			putTuple(n, ctaExpNATTuple, Tuple{Src: x.NAT.Addr, Dst: zeroAddr(x.NAT.Addr), Proto: x.Tuple.Proto, SrcPort: x.NAT.Port})
			return nil
		})
	}
	b, _ := ae.Encode() // well-formed by construction
	return append(nfgen(family(x.Tuple.Src)), b...)
}

// deleteMessage encodes a request that deletes the expectation of tuple t.
func deleteMessage(t Tuple, zone uint16) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	putTuple(ae, ctaExpTuple, t)
	if zone != 0 {
		ae.Uint16(ctaExpZone, zone)
	}
	b, _ := ae.Encode()
	return append(nfgen(family(t.Src)), b...)
}

// dumpExpectations reads the expectation table (both families).
func dumpExpectations(ctx context.Context, c *netlink.Conn, bad func(error)) ([]Expectation, error) {
	msgs, err := execute(ctx, c, netlink.Message{
		Header: netlink.Header{Type: msgType(expGet), Flags: netlink.Request | netlink.Dump},
		Data:   nfgen(unix.AF_UNSPEC),
	})
	if err != nil {
		return nil, fmt.Errorf("expectation dump: %w", err)
	}
	out := make([]Expectation, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != msgType(expNew) {
			continue
		}
		x, err := parseExpectation(m.Data)
		if err != nil {
			bad(err)
			continue
		}
		out = append(out, x)
	}
	return out, nil
}
