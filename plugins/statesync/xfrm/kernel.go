package xfrm

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

// xfrm netlink message types, groups and attributes
// (include/uapi/linux/xfrm.h).
const (
	msgNewSA       = 0x10
	msgDelSA       = 0x11
	msgGetSA       = 0x12
	msgNewPolicy   = 0x13
	msgDelPolicy   = 0x14
	msgGetPolicy   = 0x15
	msgExpire      = 0x18
	msgUpdPolicy   = 0x19
	msgUpdSA       = 0x1a
	msgPolExpire   = 0x1b
	msgFlushSA     = 0x1c
	msgFlushPolicy = 0x1d
	msgNewAE       = 0x1e

	groupExpire  = 2
	groupSA      = 3
	groupPolicy  = 4
	groupAEvents = 5

	attrAlgAuth      = 1
	attrAlgCrypt     = 2
	attrAlgComp      = 3
	attrEncap        = 4
	attrTmpl         = 5
	attrSA           = 6
	attrPolicy       = 7
	attrLtimeVal     = 9
	attrReplayVal    = 10
	attrPolicyType   = 16
	attrAlgAEAD      = 18
	attrAlgAuthTrunc = 20
	attrMark         = 21
	attrTFCPad       = 22
	attrReplayESN    = 23
	attrExtraFlags   = 24
	attrSetMark      = 29
	attrSetMarkMask  = 30
	attrIfID         = 31
	attrMTimerThresh = 32
	attrSADir        = 33
	attrNATKeepalive = 34

	// struct sizes and offsets (checked against the uapi header on x86_64
	// and arm64; the layout has no architecture-dependent padding there).
	selectorLen      = 56
	usersaInfoLen    = 224
	usersaIDLen      = 24
	aeventIDLen      = 48
	userpolicyLen    = 168
	userpolicyIDLen  = 64
	userTmplLen      = 64
	encapLen         = 24
	replayLen        = 12
	replayESNLen     = 24
	algoNameLen      = 64
	lifetimeCfgLen   = 64
	lifetimeCurLen   = 32
	userExpireLen    = 232
	userPolExpireLen = 176
	policyTypeLen    = 6
	markLen          = 8

	// esnMaxWords is XFRMA_REPLAY_ESN_MAX / 32: the longest bitmap.
	esnMaxWords = 128
)

var ne = binary.NativeEndian

// errMalformed is wrapped by every error about a kernel message.
var errMalformed = errors.New("malformed xfrm message")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMalformed}, a...)...)
}

// dial opens a NETLINK_XFRM socket in network namespace netns (0: the
// caller's) joined to groups.
func dial(netns int, groups ...uint32) (*netlink.Conn, error) {
	c, err := nlsock.Dial(unix.NETLINK_XFRM, "xfrm netlink", netns, groups...)
	if err != nil {
		return nil, err
	}
	// The kernel's reason travels with errors ("Requested type not found").
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	return c, nil
}

// execute sends m and returns the answers; ctx bounds the wait.
func execute(ctx context.Context, c *netlink.Conn, m netlink.Message) ([]netlink.Message, error) {
	return nlsock.Execute(ctx, c, m)
}

// addrAt reads an xfrm_address_t of family fam; family 0 gives the
// invalid Addr.
func addrAt(b []byte, fam uint16) netip.Addr {
	switch fam {
	case unix.AF_INET:
		return netip.AddrFrom4([4]byte(b[:4]))
	case unix.AF_INET6:
		return netip.AddrFrom16([16]byte(b[:16]))
	}
	return netip.Addr{}
}

// putAddr writes a as an xfrm_address_t.
func putAddr(b []byte, a netip.Addr) {
	if a.IsValid() {
		copy(b[:16], a.AsSlice())
	}
}

func famOf(a netip.Addr) uint16 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// parseSelector decodes struct xfrm_selector. An SA's selector may have
// family 0 and still addresses, which the kernel matches with the SA's
// family: they are read with fallback.
func parseSelector(b []byte, fallback uint16) Selector {
	s := Selector{Family: ne.Uint16(b[40:])}
	af := s.Family
	if af == 0 {
		af = fallback
	}
	s.Dst, s.Src = addrAt(b[0:], af), addrAt(b[16:], af)
	s.DPort = binary.BigEndian.Uint16(b[32:])
	s.DPortMask = binary.BigEndian.Uint16(b[34:])
	s.SPort = binary.BigEndian.Uint16(b[36:])
	s.SPortMask = binary.BigEndian.Uint16(b[38:])
	s.PrefixD, s.PrefixS, s.Proto = b[42], b[43], b[44]
	s.Ifindex = int32(ne.Uint32(b[48:]))
	s.User = ne.Uint32(b[52:])
	return s
}

func putSelector(b []byte, s *Selector) {
	putAddr(b[0:], s.Dst)
	putAddr(b[16:], s.Src)
	binary.BigEndian.PutUint16(b[32:], s.DPort)
	binary.BigEndian.PutUint16(b[34:], s.DPortMask)
	binary.BigEndian.PutUint16(b[36:], s.SPort)
	binary.BigEndian.PutUint16(b[38:], s.SPortMask)
	ne.PutUint16(b[40:], s.Family)
	b[42], b[43], b[44] = s.PrefixD, s.PrefixS, s.Proto
	ne.PutUint32(b[48:], uint32(s.Ifindex))
	ne.PutUint32(b[52:], s.User)
}

func parseLifetime(b []byte) Lifetime {
	u := func(i int) uint64 { return ne.Uint64(b[8*i:]) }
	return Lifetime{u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7)}
}

func putLifetime(b []byte, l *Lifetime) {
	for i, v := range []uint64{l.SoftBytes, l.HardBytes, l.SoftPackets, l.HardPackets, l.SoftAdd, l.HardAdd, l.SoftUse, l.HardUse} {
		ne.PutUint64(b[8*i:], v)
	}
}

func parseCurrent(b []byte) Current {
	return Current{ne.Uint64(b), ne.Uint64(b[8:]), ne.Uint64(b[16:]), ne.Uint64(b[24:])}
}

func currentBytes(c *Current) []byte {
	b := make([]byte, lifetimeCurLen)
	ne.PutUint64(b, c.Bytes)
	ne.PutUint64(b[8:], c.Packets)
	ne.PutUint64(b[16:], c.AddTime)
	ne.PutUint64(b[24:], c.UseTime)
	return b
}

// parseAlgo decodes struct xfrm_algo (extraField false) or
// xfrm_algo_auth / xfrm_algo_aead (a 32-bit field after the key length).
func parseAlgo(b []byte, extraField bool) (*Algo, error) {
	hdr := algoNameLen + 4
	if extraField {
		hdr += 4
	}
	if len(b) < hdr {
		return nil, malformed("algorithm attribute of %d bytes", len(b))
	}
	a := &Algo{Name: cstr(b[:algoNameLen]), KeyBits: ne.Uint32(b[algoNameLen:])}
	if extraField {
		a.Extra = ne.Uint32(b[algoNameLen+4:])
	}
	n := int((a.KeyBits + 7) / 8)
	if len(b) < hdr+n {
		return nil, malformed("algorithm %s: %d-bit key in %d bytes", a.Name, a.KeyBits, len(b)-hdr)
	}
	a.Key = append([]byte(nil), b[hdr:hdr+n]...)
	return a, nil
}

func algoBytes(a *Algo, extraField bool) []byte {
	hdr := algoNameLen + 4
	if extraField {
		hdr += 4
	}
	b := make([]byte, hdr+len(a.Key))
	copy(b[:algoNameLen-1], a.Name)
	ne.PutUint32(b[algoNameLen:], a.KeyBits)
	if extraField {
		ne.PutUint32(b[algoNameLen+4:], a.Extra)
	}
	copy(b[hdr:], a.Key)
	return b
}

func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func parseESN(b []byte) (*ReplayESN, error) {
	if len(b) < replayESNLen {
		return nil, malformed("ESN replay state of %d bytes", len(b))
	}
	n := ne.Uint32(b)
	if n > esnMaxWords || len(b) < replayESNLen+4*int(n) {
		return nil, malformed("ESN bitmap of %d words in %d bytes", n, len(b))
	}
	r := &ReplayESN{OSeq: ne.Uint32(b[4:]), Seq: ne.Uint32(b[8:]), OSeqHi: ne.Uint32(b[12:]), SeqHi: ne.Uint32(b[16:]),
		Window: ne.Uint32(b[20:]), Bitmap: make([]uint32, n)}
	for i := range r.Bitmap {
		r.Bitmap[i] = ne.Uint32(b[replayESNLen+4*i:])
	}
	return r, nil
}

func esnBytes(r *ReplayESN) []byte {
	b := make([]byte, replayESNLen+4*len(r.Bitmap))
	ne.PutUint32(b, uint32(len(r.Bitmap)))
	ne.PutUint32(b[4:], r.OSeq)
	ne.PutUint32(b[8:], r.Seq)
	ne.PutUint32(b[12:], r.OSeqHi)
	ne.PutUint32(b[16:], r.SeqHi)
	ne.PutUint32(b[20:], r.Window)
	for i, w := range r.Bitmap {
		ne.PutUint32(b[replayESNLen+4*i:], w)
	}
	return b
}

func replayBytes(r *Replay) []byte {
	b := make([]byte, replayLen)
	ne.PutUint32(b, r.OSeq)
	ne.PutUint32(b[4:], r.Seq)
	ne.PutUint32(b[8:], r.Bitmap)
	return b
}

func markBytes(v, m uint32) []byte {
	b := make([]byte, markLen)
	ne.PutUint32(b, v)
	ne.PutUint32(b[4:], m)
	return b
}

// parseSAInfo decodes struct xfrm_usersa_info.
func parseSAInfo(b []byte) (SA, error) {
	if len(b) < usersaInfoLen {
		return SA{}, malformed("SA info of %d bytes", len(b))
	}
	var s SA
	fam := ne.Uint16(b[212:])
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		return SA{}, malformed("SA family %d", fam)
	}
	s.Selector = parseSelector(b, fam)
	s.Dst = addrAt(b[56:], fam)
	s.SPI = binary.BigEndian.Uint32(b[72:])
	s.Proto = b[76]
	s.Src = addrAt(b[80:], fam)
	s.Lifetime = parseLifetime(b[96:])
	s.Current = parseCurrent(b[160:])
	s.ReqID = ne.Uint32(b[208:])
	s.Mode, s.ReplayWindow, s.Flags = b[214], b[215], b[216]
	return s, nil
}

// parseSAAttrs decodes the attributes that follow an SA's info.
func parseSAAttrs(s *SA, b []byte) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return malformed("SA attributes: %v", err)
	}
	var legacyAuth *Algo
	for ad.Next() {
		var err error
		d := ad.Bytes()
		switch ad.Type() {
		case attrAlgCrypt:
			s.Crypt, err = parseAlgo(d, false)
		case attrAlgAuth:
			legacyAuth, err = parseAlgo(d, false)
		case attrAlgAuthTrunc:
			s.Auth, err = parseAlgo(d, true)
		case attrAlgAEAD:
			s.AEAD, err = parseAlgo(d, true)
		case attrAlgComp:
			s.Comp, err = parseAlgo(d, false)
		case attrEncap:
			if len(d) < encapLen {
				return malformed("encap of %d bytes", len(d))
			}
			s.Encap = &Encap{Type: ne.Uint16(d), SPort: binary.BigEndian.Uint16(d[2:]), DPort: binary.BigEndian.Uint16(d[4:]),
				OA: addrAt(d[8:], famOf(s.Dst))}
		case attrMark:
			if len(d) < markLen {
				return malformed("mark of %d bytes", len(d))
			}
			s.Mark, s.MarkMask = ne.Uint32(d), ne.Uint32(d[4:])
		case attrReplayVal:
			if len(d) < replayLen {
				return malformed("replay state of %d bytes", len(d))
			}
			s.Replay = &Replay{OSeq: ne.Uint32(d), Seq: ne.Uint32(d[4:]), Bitmap: ne.Uint32(d[8:])}
		case attrReplayESN:
			s.ESN, err = parseESN(d)
		case attrLtimeVal:
			if len(d) < lifetimeCurLen {
				return malformed("lifetime of %d bytes", len(d))
			}
			s.Current = parseCurrent(d)
		case attrExtraFlags:
			s.ExtraFlags = ad.Uint32()
		case attrTFCPad:
			s.TFCPad = ad.Uint32()
		case attrSetMark:
			s.OutputMark = ad.Uint32()
		case attrSetMarkMask:
			s.OutputMask = ad.Uint32()
		case attrIfID:
			s.IfID = ad.Uint32()
		case attrSADir:
			s.Dir = ad.Uint8()
		case attrNATKeepalive:
			s.NATKeepalive = ad.Uint32()
		case attrMTimerThresh:
			s.MappingMaxAge = ad.Uint32()
		}
		if err != nil {
			return err
		}
	}
	if err := ad.Err(); err != nil {
		return malformed("SA attributes: %v", err)
	}
	if s.Auth == nil && legacyAuth != nil {
		s.Auth = legacyAuth
	}
	if s.ESN != nil {
		s.Replay = nil
	}
	return nil
}

// parseSA decodes a NEWSA/UPDSA message or dump entry.
func parseSA(b []byte) (SA, error) {
	s, err := parseSAInfo(b)
	if err != nil {
		return SA{}, err
	}
	if err := parseSAAttrs(&s, b[usersaInfoLen:]); err != nil {
		return SA{}, err
	}
	return s, nil
}

// parseSAID decodes the SA identity of a DELSA event (struct
// xfrm_usersa_id and the mark attribute) or of a hard EXPIRE.
func parseSAID(typ netlink.HeaderType, b []byte) (SA, error) {
	var s SA
	var attrs []byte
	switch typ {
	case msgDelSA:
		if len(b) < usersaIDLen {
			return s, malformed("SA id of %d bytes", len(b))
		}
		fam := ne.Uint16(b[20:])
		if fam != unix.AF_INET && fam != unix.AF_INET6 {
			return s, malformed("SA family %d", fam)
		}
		s.Dst, s.SPI, s.Proto = addrAt(b, fam), binary.BigEndian.Uint32(b[16:]), b[22]
		attrs = b[usersaIDLen:]
	case msgExpire:
		if len(b) < userExpireLen {
			return s, malformed("expire of %d bytes", len(b))
		}
		var err error
		if s, err = parseSAInfo(b); err != nil {
			return s, err
		}
		attrs = b[userExpireLen:]
	}
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return s, malformed("SA attributes: %v", err)
	}
	for ad.Next() {
		if d := ad.Bytes(); ad.Type() == attrMark && len(d) >= markLen {
			s.Mark, s.MarkMask = ne.Uint32(d), ne.Uint32(d[4:])
		}
	}
	return s, nil
}

// parsePolicyInfo decodes struct xfrm_userpolicy_info.
func parsePolicyInfo(b []byte) (Policy, error) {
	if len(b) < userpolicyLen {
		return Policy{}, malformed("policy info of %d bytes", len(b))
	}
	p := Policy{Selector: parseSelector(b, 0), Lifetime: parseLifetime(b[56:]), Priority: ne.Uint32(b[152:]),
		Dir: b[160], Action: b[161], Flags: b[162], Share: b[163]}
	return p, nil
}

// parsePolicyAttrs decodes the attributes that follow a policy's info;
// a DELPOLICY event carries the info itself as XFRMA_POLICY.
func parsePolicyAttrs(p *Policy, b []byte) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return malformed("policy attributes: %v", err)
	}
	for ad.Next() {
		d := ad.Bytes()
		switch ad.Type() {
		case attrPolicy:
			q, err := parsePolicyInfo(d)
			if err != nil {
				return err
			}
			q.Mark, q.MarkMask, q.IfID, q.Type, q.Templates = p.Mark, p.MarkMask, p.IfID, p.Type, p.Templates
			*p = q
		case attrTmpl:
			if len(d)%userTmplLen != 0 {
				return malformed("templates of %d bytes", len(d))
			}
			p.Templates = nil
			for i := 0; i < len(d); i += userTmplLen {
				t := d[i:]
				fam := ne.Uint16(t[24:])
				p.Templates = append(p.Templates, Template{Family: fam, Dst: addrAt(t, fam), SPI: binary.BigEndian.Uint32(t[16:]),
					Proto: t[20], Src: addrAt(t[28:], fam), ReqID: ne.Uint32(t[44:]), Mode: t[48], Share: t[49], Optional: t[50],
					AAlgos: ne.Uint32(t[52:]), EAlgos: ne.Uint32(t[56:]), CAlgos: ne.Uint32(t[60:])})
			}
		case attrPolicyType:
			if len(d) >= 1 {
				p.Type = d[0]
			}
		case attrMark:
			if len(d) >= markLen {
				p.Mark, p.MarkMask = ne.Uint32(d), ne.Uint32(d[4:])
			}
		case attrIfID:
			p.IfID = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return malformed("policy attributes: %v", err)
	}
	return nil
}

// parsePolicy decodes a NEWPOLICY/UPDPOLICY message or dump entry, a
// DELPOLICY event or a POLEXPIRE.
func parsePolicy(typ netlink.HeaderType, b []byte) (Policy, error) {
	var p Policy
	hdr := userpolicyLen
	switch typ {
	case msgDelPolicy:
		if len(b) < userpolicyIDLen {
			return p, malformed("policy id of %d bytes", len(b))
		}
		p.Selector, p.Dir = parseSelector(b, 0), b[60]
		hdr = userpolicyIDLen
	case msgPolExpire:
		hdr = userPolExpireLen
		fallthrough
	default:
		if len(b) < hdr {
			return p, malformed("policy of %d bytes", len(b))
		}
		var err error
		if p, err = parsePolicyInfo(b); err != nil {
			return p, err
		}
	}
	if err := parsePolicyAttrs(&p, b[hdr:]); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// saIdentity appends the attributes every SA request needs to find it.
func saIdentity(ae *netlink.AttributeEncoder, s *SA) {
	if s.Mark != 0 || s.MarkMask != 0 {
		ae.Bytes(attrMark, markBytes(s.Mark, s.MarkMask))
	}
}

// newSAMessage encodes a NEWSA request that creates s as it is (the
// margin is applied by the caller).
func newSAMessage(s *SA) []byte {
	b := make([]byte, usersaInfoLen)
	putSelector(b, &s.Selector)
	putAddr(b[56:], s.Dst)
	binary.BigEndian.PutUint32(b[72:], s.SPI)
	b[76] = s.Proto
	putAddr(b[80:], s.Src)
	putLifetime(b[96:], &s.Lifetime)
	ne.PutUint32(b[208:], s.ReqID)
	ne.PutUint16(b[212:], famOf(s.Dst))
	b[214], b[215], b[216] = s.Mode, s.ReplayWindow, s.Flags
	ae := netlink.NewAttributeEncoder()
	if s.Crypt != nil {
		ae.Bytes(attrAlgCrypt, algoBytes(s.Crypt, false))
	}
	if s.Auth != nil {
		if s.Auth.Extra == 0 {
			ae.Bytes(attrAlgAuth, algoBytes(s.Auth, false))
		} else {
			ae.Bytes(attrAlgAuthTrunc, algoBytes(s.Auth, true))
		}
	}
	if s.AEAD != nil {
		ae.Bytes(attrAlgAEAD, algoBytes(s.AEAD, true))
	}
	if s.Comp != nil {
		ae.Bytes(attrAlgComp, algoBytes(s.Comp, false))
	}
	if e := s.Encap; e != nil {
		d := make([]byte, encapLen)
		ne.PutUint16(d, e.Type)
		binary.BigEndian.PutUint16(d[2:], e.SPort)
		binary.BigEndian.PutUint16(d[4:], e.DPort)
		putAddr(d[8:], e.OA)
		ae.Bytes(attrEncap, d)
	}
	saIdentity(ae, s)
	if s.ExtraFlags != 0 {
		ae.Uint32(attrExtraFlags, s.ExtraFlags)
	}
	if s.TFCPad != 0 {
		ae.Uint32(attrTFCPad, s.TFCPad)
	}
	if s.OutputMark != 0 || s.OutputMask != 0 {
		ae.Uint32(attrSetMark, s.OutputMark)
		ae.Uint32(attrSetMarkMask, s.OutputMask)
	}
	if s.IfID != 0 {
		ae.Uint32(attrIfID, s.IfID)
	}
	if s.Dir != 0 {
		ae.Uint8(attrSADir, s.Dir)
	}
	if s.NATKeepalive != 0 {
		ae.Uint32(attrNATKeepalive, s.NATKeepalive)
	}
	if s.MappingMaxAge != 0 {
		ae.Uint32(attrMTimerThresh, s.MappingMaxAge)
	}
	putDynamic(ae, s)
	attrs, _ := ae.Encode() // flat attributes: cannot fail
	return append(b, attrs...)
}

// putDynamic appends the state that changes with traffic: replay state
// and current lifetime.
func putDynamic(ae *netlink.AttributeEncoder, s *SA) {
	if s.ESN != nil {
		ae.Bytes(attrReplayESN, esnBytes(s.ESN))
	} else if s.Replay != nil {
		ae.Bytes(attrReplayVal, replayBytes(s.Replay))
	}
	ae.Bytes(attrLtimeVal, currentBytes(&s.Current))
}

// newAEMessage encodes a NEWAE request (with NLM_F_REPLACE) that sets an
// existing SA's replay state and current lifetime.
func newAEMessage(s *SA) []byte {
	b := make([]byte, aeventIDLen)
	putAddr(b, s.Dst)
	binary.BigEndian.PutUint32(b[16:], s.SPI)
	ne.PutUint16(b[20:], famOf(s.Dst))
	b[22] = s.Proto
	putAddr(b[24:], s.Src)
	ne.PutUint32(b[44:], s.ReqID)
	ae := netlink.NewAttributeEncoder()
	saIdentity(ae, s)
	putDynamic(ae, s)
	attrs, _ := ae.Encode()
	return append(b, attrs...)
}

// saIDMessage encodes a struct xfrm_usersa_id request (DELSA, GETSA).
func saIDMessage(s *SA) []byte {
	b := make([]byte, usersaIDLen)
	putAddr(b, s.Dst)
	binary.BigEndian.PutUint32(b[16:], s.SPI)
	ne.PutUint16(b[20:], famOf(s.Dst))
	b[22] = s.Proto
	ae := netlink.NewAttributeEncoder()
	saIdentity(ae, s)
	attrs, _ := ae.Encode()
	return append(b, attrs...)
}

// policyAttrs appends the attributes of a policy request.
func policyAttrs(ae *netlink.AttributeEncoder, p *Policy, withTemplates bool) {
	if withTemplates && len(p.Templates) > 0 {
		d := make([]byte, userTmplLen*len(p.Templates))
		for i, t := range p.Templates {
			b := d[i*userTmplLen:]
			putAddr(b, t.Dst)
			binary.BigEndian.PutUint32(b[16:], t.SPI)
			b[20] = t.Proto
			ne.PutUint16(b[24:], t.Family)
			putAddr(b[28:], t.Src)
			ne.PutUint32(b[44:], t.ReqID)
			b[48], b[49], b[50] = t.Mode, t.Share, t.Optional
			ne.PutUint32(b[52:], t.AAlgos)
			ne.PutUint32(b[56:], t.EAlgos)
			ne.PutUint32(b[60:], t.CAlgos)
		}
		ae.Bytes(attrTmpl, d)
	}
	pt := make([]byte, policyTypeLen)
	pt[0] = p.Type
	ae.Bytes(attrPolicyType, pt)
	if p.Mark != 0 || p.MarkMask != 0 {
		ae.Bytes(attrMark, markBytes(p.Mark, p.MarkMask))
	}
	if p.IfID != 0 {
		ae.Uint32(attrIfID, p.IfID)
	}
}

// updPolicyMessage encodes an UPDPOLICY request: create p, or replace
// the policy with its identity.
func updPolicyMessage(p *Policy) []byte {
	b := make([]byte, userpolicyLen)
	putSelector(b, &p.Selector)
	putLifetime(b[56:], &p.Lifetime)
	ne.PutUint32(b[152:], p.Priority)
	b[160], b[161], b[162], b[163] = p.Dir, p.Action, p.Flags, p.Share
	ae := netlink.NewAttributeEncoder()
	policyAttrs(ae, p, true)
	attrs, _ := ae.Encode()
	return append(b, attrs...)
}

// delPolicyMessage encodes a DELPOLICY request for p's identity.
func delPolicyMessage(p *Policy) []byte {
	b := make([]byte, userpolicyIDLen)
	putSelector(b, &p.Selector)
	b[60] = p.Dir
	ae := netlink.NewAttributeEncoder()
	policyAttrs(ae, p, false)
	attrs, _ := ae.Encode()
	return append(b, attrs...)
}

// dumpSAs reads every SA; entries that do not parse go to bad.
func dumpSAs(ctx context.Context, c *netlink.Conn, bad func(error)) ([]SA, error) {
	msgs, err := execute(ctx, c, netlink.Message{
		Header: netlink.Header{Type: msgGetSA, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, usersaIDLen),
	})
	if err != nil {
		return nil, fmt.Errorf("SA dump: %w", err)
	}
	out := make([]SA, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != msgNewSA {
			continue
		}
		s, err := parseSA(m.Data)
		if err != nil {
			bad(err)
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// dumpPolicies reads every (global) policy.
func dumpPolicies(ctx context.Context, c *netlink.Conn, bad func(error)) ([]Policy, error) {
	msgs, err := execute(ctx, c, netlink.Message{
		Header: netlink.Header{Type: msgGetPolicy, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, userpolicyIDLen),
	})
	if err != nil {
		return nil, fmt.Errorf("policy dump: %w", err)
	}
	out := make([]Policy, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != msgNewPolicy {
			continue
		}
		p, err := parsePolicy(msgNewPolicy, m.Data)
		if err != nil {
			bad(err)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
