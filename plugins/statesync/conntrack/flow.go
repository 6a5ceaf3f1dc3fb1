package conntrack

import (
	"fmt"
	"net/netip"
)

// IP protocol numbers of the connections this channel syncs.
const (
	ProtoICMP    uint8 = 1
	ProtoTCP     uint8 = 6
	ProtoUDP     uint8 = 17
	ProtoDCCP    uint8 = 33
	ProtoGRE     uint8 = 47
	ProtoESP     uint8 = 50
	ProtoICMPv6  uint8 = 58
	ProtoSCTP    uint8 = 132
	ProtoUDPLite uint8 = 136
)

// Supported reports whether the channel syncs connections of protocol p:
// the protocols the kernel tracks with their own tracker (plus ESP, which
// it tracks generically by addresses).
func Supported(p uint8) bool {
	switch p {
	case ProtoICMP, ProtoTCP, ProtoUDP, ProtoDCCP, ProtoGRE, ProtoESP,
		ProtoICMPv6, ProtoSCTP, ProtoUDPLite:
		return true
	}
	return false
}

// hasPorts reports whether tuples of protocol p carry 16-bit source and
// destination ports (GRE carries its keys there).
func hasPorts(p uint8) bool {
	switch p {
	case ProtoTCP, ProtoUDP, ProtoDCCP, ProtoGRE, ProtoSCTP, ProtoUDPLite:
		return true
	}
	return false
}

func isICMP(p uint8) bool { return p == ProtoICMP || p == ProtoICMPv6 }

// Status is a conntrack entry's status bit set (enum ip_conntrack_status).
type Status uint32

// The status bits (include/uapi/linux/netfilter/nf_conntrack_common.h).
const (
	StatusExpected   Status = 1 << 0
	StatusSeenReply  Status = 1 << 1
	StatusAssured    Status = 1 << 2
	StatusConfirmed  Status = 1 << 3
	StatusSrcNAT     Status = 1 << 4
	StatusDstNAT     Status = 1 << 5
	StatusSeqAdjust  Status = 1 << 6
	StatusSrcNATDone Status = 1 << 7
	StatusDstNATDone Status = 1 << 8
	StatusDying      Status = 1 << 9
	StatusFixedTO    Status = 1 << 10
	StatusTemplate   Status = 1 << 11
	StatusUntracked  Status = 1 << 12
	StatusHelper     Status = 1 << 13
	StatusOffload    Status = 1 << 14
	StatusHWOffload  Status = 1 << 15
)

// TCP conntrack states (enum tcp_conntrack).
const (
	TCPNone uint8 = iota
	TCPSynSent
	TCPSynRecv
	TCPEstablished
	TCPFinWait
	TCPCloseWait
	TCPLastAck
	TCPTimeWait
	TCPClose
	TCPSynSent2
)

// TCP window tracking flags (IP_CT_TCP_FLAG_*).
const (
	TCPFlagWindowScale uint8 = 0x01
	TCPFlagSACKPerm    uint8 = 0x02
	TCPFlagCloseInit   uint8 = 0x04
	TCPFlagBeLiberal   uint8 = 0x08
)

// Tuple is one direction of a connection as conntrack sees it.
type Tuple struct {
	Src, Dst netip.Addr
	Proto    uint8
	// SrcPort and DstPort are the ports of TCP, UDP, UDP-Lite, SCTP and
	// DCCP, and the keys of GRE.
	SrcPort, DstPort uint16
	// ICMPID, ICMPType and ICMPCode identify an ICMP or ICMPv6 flow.
	ICMPID             uint16
	ICMPType, ICMPCode uint8
}

// Inverse is the tuple of the other direction without any NAT: what the
// reply tuple is when the connection is not translated.
func (t Tuple) Inverse() Tuple {
	r := Tuple{Src: t.Dst, Dst: t.Src, Proto: t.Proto, SrcPort: t.DstPort, DstPort: t.SrcPort}
	if isICMP(t.Proto) {
		r.ICMPID, r.ICMPCode = t.ICMPID, t.ICMPCode
		r.ICMPType = icmpReplyType(t.Proto, t.ICMPType)
	}
	return r
}

// icmpReplyType maps a query type to its reply type, as the kernel's
// invert_tuple does.
func icmpReplyType(proto, typ uint8) uint8 {
	m := icmpInverse
	if proto == ProtoICMPv6 {
		m = icmpv6Inverse
	}
	if r, ok := m[typ]; ok {
		return r
	}
	return typ
}

var (
	icmpInverse   = map[uint8]uint8{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17}
	icmpv6Inverse = map[uint8]uint8{128: 129, 129: 128, 139: 140, 140: 139}
)

func (t Tuple) String() string {
	switch {
	case isICMP(t.Proto):
		return fmt.Sprintf("proto=%d %s>%s id=%d type=%d code=%d", t.Proto, t.Src, t.Dst, t.ICMPID, t.ICMPType, t.ICMPCode)
	case hasPorts(t.Proto):
		return fmt.Sprintf("proto=%d %s>%s", t.Proto, netip.AddrPortFrom(t.Src, t.SrcPort), netip.AddrPortFrom(t.Dst, t.DstPort))
	}
	return fmt.Sprintf("proto=%d %s>%s", t.Proto, t.Src, t.Dst)
}

// TCPInfo is the TCP part of CTA_PROTOINFO.
type TCPInfo struct {
	State                   uint8
	WScaleOrig, WScaleReply uint8
	FlagsOrig, FlagsReply   uint8
}

// SCTPInfo is the SCTP part of CTA_PROTOINFO.
type SCTPInfo struct {
	State               uint8
	VTagOrig, VTagReply uint32
}

// DCCPInfo is the DCCP part of CTA_PROTOINFO (kernels before 6.16).
type DCCPInfo struct {
	State, Role  uint8
	HandshakeSeq uint64
}

// Flow is one conntrack entry: everything needed to recreate it on the
// other unit.
type Flow struct {
	// Orig is the tuple of the first packet; Reply is what replies look
	// like. Reply differs from Orig.Inverse() when the flow is NAT'd.
	Orig, Reply Tuple
	Zone        uint16
	Status      Status
	// Timeout is the remaining lifetime in seconds when the entry was read.
	Timeout uint32
	Mark    uint32
	// Labels are the conntrack labels (up to 128 bits), nil when none.
	Labels []byte
	// Exactly one of TCP, SCTP and DCCP is set for those protocols when
	// the kernel reported it.
	TCP    *TCPInfo
	SCTP   *SCTPInfo
	DCCP   *DCCPInfo
	Helper string
	// Start is the kernel's start timestamp (ns since the epoch) when
	// net.netfilter.nf_conntrack_timestamp is on, else 0. Not synced.
	Start uint64
}

// SrcNAT reports whether the flow's source is translated (SNAT or
// masquerade): replies go to another address or port than the originator.
func (f *Flow) SrcNAT() bool {
	inv := f.Orig.Inverse()
	return f.Reply.Dst != inv.Dst || f.Reply.DstPort != inv.DstPort ||
		(isICMP(f.Orig.Proto) && f.Reply.ICMPID != inv.ICMPID)
}

// DstNAT reports whether the flow's destination is translated (DNAT,
// port forwarding, redirect).
func (f *Flow) DstNAT() bool {
	inv := f.Orig.Inverse()
	return f.Reply.Src != inv.Src || f.Reply.SrcPort != inv.SrcPort
}

func (f *Flow) String() string {
	s := fmt.Sprintf("%s zone=%d", f.Orig, f.Zone)
	if f.SrcNAT() || f.DstNAT() {
		s += " reply=" + f.Reply.String()
	}
	return s
}
