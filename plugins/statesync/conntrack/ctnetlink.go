package conntrack

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ctnetlink message types and attributes
// (include/uapi/linux/netfilter/nfnetlink_conntrack.h).
const (
	nfnlSubsysCTNetlink = 1
	ctMsgNew            = 0
	ctMsgGet            = 1
	ctMsgDelete         = 2

	// multicast groups (enum nfnetlink_groups)
	groupCTNew     = 1
	groupCTUpdate  = 2
	groupCTDestroy = 3

	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaStatus     = 3
	ctaProtoinfo  = 4
	ctaHelp       = 5
	ctaNATSrc     = 6
	ctaTimeout    = 7
	ctaMark       = 8
	ctaZone       = 18
	ctaTimestamp  = 20
	ctaLabels     = 22

	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum      = 1
	ctaProtoSrcPort  = 2
	ctaProtoDstPort  = 3
	ctaProtoICMPID   = 4
	ctaProtoICMPType = 5
	ctaProtoICMPCode = 6
	ctaProtoICMP6ID  = 7
	ctaProtoICMP6Typ = 8
	ctaProtoICMP6Cod = 9

	ctaProtoinfoTCP  = 1
	ctaProtoinfoDCCP = 2
	ctaProtoinfoSCTP = 3

	ctaTCPState       = 1
	ctaTCPWScaleOrig  = 2
	ctaTCPWScaleReply = 3
	ctaTCPFlagsOrig   = 4
	ctaTCPFlagsReply  = 5

	ctaDCCPState        = 1
	ctaDCCPRole         = 2
	ctaDCCPHandshakeSeq = 3

	ctaSCTPState     = 1
	ctaSCTPVTagOrig  = 2
	ctaSCTPVTagReply = 3

	ctaHelpName = 1

	ctaTimestampStart = 1

	ctaNATDst      = 13
	ctaNATv4MinIP  = 1
	ctaNATv4MaxIP  = 2
	ctaNATProto    = 3
	ctaNATv6MinIP  = 4
	ctaNATv6MaxIP  = 5
	ctaNATPortMin  = 1
	ctaNATPortMax  = 2
	labelsMaxBytes = 16
)

// ctMsgType is the netlink message type of ctnetlink message m.
func ctMsgType(m uint16) uint16 { return nfnlSubsysCTNetlink<<8 | m }

// parseFlow decodes the attributes of a ctnetlink conntrack message (an
// event or a dump entry) of address family fam into a Flow. Attributes it
// does not need are skipped.
func parseFlow(fam uint8, attrs []byte) (Flow, error) {
	var f Flow
	var haveOrig, haveReply bool
	it := newAttrIter(attrs)
	for it.next() {
		var err error
		switch it.typ {
		case ctaTupleOrig:
			f.Orig, err = parseTuple(fam, it.data)
			haveOrig = true
		case ctaTupleReply:
			f.Reply, err = parseTuple(fam, it.data)
			haveReply = true
		case ctaStatus:
			var v uint32
			v, err = it.be32()
			f.Status = Status(v)
		case ctaTimeout:
			f.Timeout, err = it.be32()
		case ctaMark:
			f.Mark, err = it.be32()
		case ctaZone:
			f.Zone, err = it.be16()
		case ctaLabels:
			f.Labels, err = parseLabels(it.data)
		case ctaProtoinfo:
			err = parseProtoinfo(&f, it.data)
		case ctaHelp:
			f.Helper, err = parseHelp(it.data)
		case ctaTimestamp:
			f.Start, err = parseTimestamp(it.data)
		}
		if err != nil {
			return Flow{}, fmt.Errorf("ctnetlink attribute %d: %w", it.typ, err)
		}
	}
	if it.err != nil {
		return Flow{}, it.err
	}
	if !haveOrig || !haveReply {
		return Flow{}, fmt.Errorf("%w: conntrack message without both tuples", errAttr)
	}
	if f.Orig.Proto != f.Reply.Proto {
		return Flow{}, fmt.Errorf("%w: tuples of protocols %d and %d", errAttr, f.Orig.Proto, f.Reply.Proto)
	}
	return f, nil
}

func parseTuple(fam uint8, b []byte) (Tuple, error) {
	var t Tuple
	it := newAttrIter(b)
	for it.next() {
		switch it.typ {
		case ctaTupleIP:
			ip := newAttrIter(it.data)
			for ip.next() {
				var a netip.Addr
				switch ip.typ {
				case ctaIPv4Src, ctaIPv4Dst:
					if len(ip.data) != 4 || fam != unix.AF_INET {
						return t, fmt.Errorf("%w: IPv4 address of %d bytes in family %d", errAttr, len(ip.data), fam)
					}
					a = netip.AddrFrom4([4]byte(ip.data))
				case ctaIPv6Src, ctaIPv6Dst:
					if len(ip.data) != 16 || fam != unix.AF_INET6 {
						return t, fmt.Errorf("%w: IPv6 address of %d bytes in family %d", errAttr, len(ip.data), fam)
					}
					a = netip.AddrFrom16([16]byte(ip.data))
				default:
					continue
				}
				if ip.typ == ctaIPv4Src || ip.typ == ctaIPv6Src {
					t.Src = a
				} else {
					t.Dst = a
				}
			}
			if ip.err != nil {
				return t, ip.err
			}
		case ctaTupleProto:
			if err := parseTupleProto(&t, it.data); err != nil {
				return t, err
			}
		}
	}
	if it.err != nil {
		return t, it.err
	}
	if !t.Src.IsValid() || !t.Dst.IsValid() {
		return t, fmt.Errorf("%w: tuple without both addresses", errAttr)
	}
	return t, nil
}

func parseTupleProto(t *Tuple, b []byte) error {
	it := newAttrIter(b)
	for it.next() {
		var err error
		switch it.typ {
		case ctaProtoNum:
			t.Proto, err = it.u8()
		case ctaProtoSrcPort:
			t.SrcPort, err = it.be16()
		case ctaProtoDstPort:
			t.DstPort, err = it.be16()
		case ctaProtoICMPID, ctaProtoICMP6ID:
			t.ICMPID, err = it.be16()
		case ctaProtoICMPType, ctaProtoICMP6Typ:
			t.ICMPType, err = it.u8()
		case ctaProtoICMPCode, ctaProtoICMP6Cod:
			t.ICMPCode, err = it.u8()
		}
		if err != nil {
			return err
		}
	}
	return it.err
}

func parseLabels(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b) > labelsMaxBytes || len(b)%4 != 0 {
		return nil, fmt.Errorf("%w: labels of %d bytes", errAttr, len(b))
	}
	for _, c := range b {
		if c != 0 {
			return append([]byte(nil), b...), nil
		}
	}
	return nil, nil
}

func parseProtoinfo(f *Flow, b []byte) error {
	it := newAttrIter(b)
	for it.next() {
		in := newAttrIter(it.data)
		switch it.typ {
		case ctaProtoinfoTCP:
			t := &TCPInfo{}
			for in.next() {
				switch in.typ {
				case ctaTCPState:
					t.State, _ = in.u8()
				case ctaTCPWScaleOrig:
					t.WScaleOrig, _ = in.u8()
				case ctaTCPWScaleReply:
					t.WScaleReply, _ = in.u8()
				case ctaTCPFlagsOrig:
					t.FlagsOrig, _ = in.u8()
				case ctaTCPFlagsReply:
					t.FlagsReply, _ = in.u8()
				}
			}
			f.TCP = t
		case ctaProtoinfoSCTP:
			s := &SCTPInfo{}
			for in.next() {
				switch in.typ {
				case ctaSCTPState:
					s.State, _ = in.u8()
				case ctaSCTPVTagOrig:
					s.VTagOrig, _ = in.be32()
				case ctaSCTPVTagReply:
					s.VTagReply, _ = in.be32()
				}
			}
			f.SCTP = s
		case ctaProtoinfoDCCP:
			d := &DCCPInfo{}
			for in.next() {
				switch in.typ {
				case ctaDCCPState:
					d.State, _ = in.u8()
				case ctaDCCPRole:
					d.Role, _ = in.u8()
				case ctaDCCPHandshakeSeq:
					if len(in.data) >= 8 {
						d.HandshakeSeq = uint64(in.data[0])<<56 | uint64(in.data[1])<<48 | uint64(in.data[2])<<40 | uint64(in.data[3])<<32 |
							uint64(in.data[4])<<24 | uint64(in.data[5])<<16 | uint64(in.data[6])<<8 | uint64(in.data[7])
					}
				}
			}
			f.DCCP = d
		}
		if in.err != nil {
			return in.err
		}
	}
	return it.err
}

func parseHelp(b []byte) (string, error) {
	it := newAttrIter(b)
	for it.next() {
		if it.typ == ctaHelpName {
			return it.cstr(), nil
		}
	}
	return "", it.err
}

func parseTimestamp(b []byte) (uint64, error) {
	it := newAttrIter(b)
	for it.next() {
		if it.typ == ctaTimestampStart && len(it.data) == 8 {
			d := it.data
			return uint64(d[0])<<56 | uint64(d[1])<<48 | uint64(d[2])<<40 | uint64(d[3])<<32 |
				uint64(d[4])<<24 | uint64(d[5])<<16 | uint64(d[6])<<8 | uint64(d[7]), nil
		}
	}
	return 0, it.err
}

// family is the address family of t (AF_INET or AF_INET6).
func family(t Tuple) uint8 {
	if t.Src.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// putTuple encodes t as the nested attribute typ.
func putTuple(e *attrEncoder, typ uint16, t Tuple) {
	n := e.nest(typ)
	ip := e.nest(ctaTupleIP)
	if t.Src.Is4() {
		e.put(ctaIPv4Src, t.Src.AsSlice())
		e.put(ctaIPv4Dst, t.Dst.AsSlice())
	} else {
		e.put(ctaIPv6Src, t.Src.AsSlice())
		e.put(ctaIPv6Dst, t.Dst.AsSlice())
	}
	e.end(ip)
	p := e.nest(ctaTupleProto)
	e.u8(ctaProtoNum, t.Proto)
	switch {
	case t.Proto == ProtoICMP:
		e.be16(ctaProtoICMPID, t.ICMPID)
		e.u8(ctaProtoICMPType, t.ICMPType)
		e.u8(ctaProtoICMPCode, t.ICMPCode)
	case t.Proto == ProtoICMPv6:
		e.be16(ctaProtoICMP6ID, t.ICMPID)
		e.u8(ctaProtoICMP6Typ, t.ICMPType)
		e.u8(ctaProtoICMP6Cod, t.ICMPCode)
	case hasPorts(t.Proto):
		e.be16(ctaProtoSrcPort, t.SrcPort)
		e.be16(ctaProtoDstPort, t.DstPort)
	}
	e.end(p)
	e.end(n)
}

// putNAT encodes a NAT setup (CTA_NAT_SRC or CTA_NAT_DST) that maps to
// exactly addr and, for protocols with ports or ICMP ids, port.
func putNAT(e *attrEncoder, typ uint16, proto uint8, addr netip.Addr, port uint16) {
	n := e.nest(typ)
	if addr.Is4() {
		e.put(ctaNATv4MinIP, addr.AsSlice())
		e.put(ctaNATv4MaxIP, addr.AsSlice())
	} else {
		e.put(ctaNATv6MinIP, addr.AsSlice())
		e.put(ctaNATv6MaxIP, addr.AsSlice())
	}
	if hasPorts(proto) && proto != ProtoGRE || isICMP(proto) {
		p := e.nest(ctaNATProto)
		e.be16(ctaNATPortMin, port)
		e.be16(ctaNATPortMax, port)
		e.end(p)
	}
	e.end(n)
}

// putProtoinfo encodes the protocol state. For TCP the window flags are
// the carried ones (window scale, SACK, close-init) plus BE_LIBERAL and
// SACK_PERM: the standby never saw the sequence numbers, so it must not
// judge the first packets by a window it does not know (conntrackd does
// the same).
func putProtoinfo(e *attrEncoder, f *Flow) {
	switch {
	case f.TCP != nil:
		n := e.nest(ctaProtoinfo)
		t := e.nest(ctaProtoinfoTCP)
		keep := TCPFlagWindowScale | TCPFlagSACKPerm | TCPFlagCloseInit
		add := TCPFlagBeLiberal | TCPFlagSACKPerm
		e.u8(ctaTCPState, f.TCP.State)
		e.u8(ctaTCPWScaleOrig, f.TCP.WScaleOrig)
		e.u8(ctaTCPWScaleReply, f.TCP.WScaleReply)
		e.put(ctaTCPFlagsOrig, []byte{f.TCP.FlagsOrig&keep | add, 0xff})
		e.put(ctaTCPFlagsReply, []byte{f.TCP.FlagsReply&keep | add, 0xff})
		e.end(t)
		e.end(n)
	case f.SCTP != nil:
		n := e.nest(ctaProtoinfo)
		s := e.nest(ctaProtoinfoSCTP)
		e.u8(ctaSCTPState, f.SCTP.State)
		e.be32(ctaSCTPVTagOrig, f.SCTP.VTagOrig)
		e.be32(ctaSCTPVTagReply, f.SCTP.VTagReply)
		e.end(s)
		e.end(n)
	case f.DCCP != nil:
		n := e.nest(ctaProtoinfo)
		d := e.nest(ctaProtoinfoDCCP)
		e.u8(ctaDCCPState, f.DCCP.State)
		e.u8(ctaDCCPRole, f.DCCP.Role)
		h := f.DCCP.HandshakeSeq
		e.put(ctaDCCPHandshakeSeq, []byte{byte(h >> 56), byte(h >> 48), byte(h >> 40), byte(h >> 32), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)})
		e.end(d)
		e.end(n)
	}
}

// installStatus is the status to install: the carried bits minus those
// the kernel refuses to be told (EXPECTED needs a master, DYING and the
// template/untracked/offload bits describe the active's own entry), plus
// CONFIRMED, without which ctnetlink answers EBUSY.
func installStatus(s Status) Status {
	s &^= StatusExpected | StatusDying | StatusTemplate | StatusUntracked | StatusOffload | StatusHWOffload
	return s | StatusConfirmed
}

// appendCreate encodes the attributes of a request that creates f with
// timeout seconds to live. The reply tuple is sent un-NAT'd together with
// CTA_NAT_SRC/CTA_NAT_DST: the kernel derives the translated reply tuple
// from the NAT setup and marks the entry SRC_NAT/DST_NAT, which is what
// makes it translate the packets; a translated reply tuple alone would
// leave the entry untranslated.
func appendCreate(e *attrEncoder, f *Flow, timeout uint32, withHelper bool) {
	putTuple(e, ctaTupleOrig, f.Orig)
	putTuple(e, ctaTupleReply, f.Orig.Inverse())
	if f.Zone != 0 {
		e.be16(ctaZone, f.Zone)
	}
	if f.DstNAT() {
		putNAT(e, ctaNATDst, f.Orig.Proto, f.Reply.Src, natPort(f, false))
	}
	if f.SrcNAT() {
		putNAT(e, ctaNATSrc, f.Orig.Proto, f.Reply.Dst, natPort(f, true))
	}
	if withHelper && f.Helper != "" {
		h := e.nest(ctaHelp)
		e.str(ctaHelpName, f.Helper)
		e.end(h)
	}
	appendState(e, f, timeout)
}

// natPort is the port (or ICMP id) the translation maps to.
func natPort(f *Flow, src bool) uint16 {
	if isICMP(f.Orig.Proto) {
		return f.Reply.ICMPID
	}
	if src {
		return f.Reply.DstPort
	}
	return f.Reply.SrcPort
}

// appendUpdate encodes a request that changes the existing entry with f's
// original tuple. NAT and helper can only be set at creation.
func appendUpdate(e *attrEncoder, f *Flow, timeout uint32) {
	putTuple(e, ctaTupleOrig, f.Orig)
	if f.Zone != 0 {
		e.be16(ctaZone, f.Zone)
	}
	appendState(e, f, timeout)
}

func appendState(e *attrEncoder, f *Flow, timeout uint32) {
	e.be32(ctaTimeout, timeout)
	e.be32(ctaStatus, uint32(installStatus(f.Status)))
	e.be32(ctaMark, f.Mark)
	putProtoinfo(e, f)
	if len(f.Labels) > 0 {
		e.put(ctaLabels, f.Labels)
	}
}

// appendDelete encodes a request that deletes the entry with tuple orig.
func appendDelete(e *attrEncoder, orig Tuple, zone uint16) {
	putTuple(e, ctaTupleOrig, orig)
	if zone != 0 {
		e.be16(ctaZone, zone)
	}
}
