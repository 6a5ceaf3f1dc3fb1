package xfrm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/recdec"
)

// CodecVersion starts every key and value; a decoder refuses any other.
const CodecVersion = 1

// ErrCodec is wrapped by every decoding error.
var ErrCodec = errors.New("ipsec record")

// Record kinds: the second byte of every key.
const (
	KindSA     = 1
	KindPolicy = 2
)

// SA value field bits: which optional fields follow the fixed part.
const (
	saExtraFlags = 1 << iota
	saCrypt
	saAuth
	saAEAD
	saComp
	saEncap
	saTFCPad
	saOutputMark
	saIfID
	saDir
	saReplay
	saESN
	saNATKeepalive
	saMappingMaxAge
	saKnown = 1<<iota - 1
)

const (
	maxKeyBits   = 8192
	maxTemplates = 6 // XFRM_MAX_DEPTH
)

// Layouts (all integers big-endian; v = uvarint):
//
// SA key: version, KindSA, family (4/6), protocol, SPI (4), destination
// address, mark (4), mark mask (4).
// SA value: version, field bits (v), source address, mode, reqid (v),
// replay window, flags, selector, lifetime (8 v), current lifetime
// (4 v), then as the bits announce: extra flags (v), crypt, auth, AEAD
// and comp algorithms (name length and name, key bits (v), key, extra
// (v)), encap (type, ports: 6 bytes, original address), TFC pad (v),
// output mark and mask (v v), if_id (v), direction (1), replay (3 x 4),
// ESN replay (5 x 4, bitmap length (1), bitmap words), NAT keepalive (v),
// mapping max age (v).
//
// Policy key: version, KindPolicy, direction, type, selector, mark (4),
// mark mask (4), if_id (4).
// Policy value: version, priority (v), action, flags, share, lifetime
// (8 v), template count (1), templates (family, destination and source
// address, SPI (4), protocol, reqid (v), mode, share, optional, three
// algorithm masks (4 each)).
//
// Selector: family (0/4/6), address family (0/4/6: the family, or an
// SA's own for family 0), destination and source address (none for
// address family 0), ports and masks (4 x 2), prefix lengths, protocol, ifindex
// (4), user (4).

func famByte(f uint16) byte {
	switch f {
	case unix.AF_INET:
		return 4
	case unix.AF_INET6:
		return 6
	}
	return 0
}

func appendSelector(b []byte, s *Selector) []byte {
	b = append(b, famByte(s.Family))
	if s.Dst.IsValid() {
		b = append(b, famByte(famOf(s.Dst)))
		b = append(b, s.Dst.AsSlice()...)
		b = append(b, s.Src.AsSlice()...)
	} else {
		b = append(b, 0)
	}
	for _, v := range []uint16{s.DPort, s.DPortMask, s.SPort, s.SPortMask} {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = append(b, s.PrefixD, s.PrefixS, s.Proto)
	b = binary.BigEndian.AppendUint32(b, uint32(s.Ifindex))
	return binary.BigEndian.AppendUint32(b, s.User)
}

func appendLifetime(b []byte, l *Lifetime) []byte {
	for _, v := range []uint64{l.SoftBytes, l.HardBytes, l.SoftPackets, l.HardPackets, l.SoftAdd, l.HardAdd, l.SoftUse, l.HardUse} {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func appendAlgo(b []byte, a *Algo) []byte {
	b = append(append(b, byte(len(a.Name))), a.Name...)
	b = binary.AppendUvarint(b, uint64(a.KeyBits))
	b = append(b, a.Key...)
	return binary.AppendUvarint(b, uint64(a.Extra))
}

// AppendSAKey appends s's record key.
func AppendSAKey(b []byte, s *SA) []byte {
	b = append(b, CodecVersion, KindSA, famByte(famOf(s.Dst)), s.Proto)
	b = binary.BigEndian.AppendUint32(b, s.SPI)
	b = append(b, s.Dst.AsSlice()...)
	b = binary.BigEndian.AppendUint32(b, s.Mark)
	return binary.BigEndian.AppendUint32(b, s.MarkMask)
}

// AppendSAValue appends s's record value, keys included.
func AppendSAValue(b []byte, s *SA) []byte {
	var f uint64
	set := func(bit uint64, on bool) {
		if on {
			f |= bit
		}
	}
	set(saExtraFlags, s.ExtraFlags != 0)
	set(saCrypt, s.Crypt != nil)
	set(saAuth, s.Auth != nil)
	set(saAEAD, s.AEAD != nil)
	set(saComp, s.Comp != nil)
	set(saEncap, s.Encap != nil)
	set(saTFCPad, s.TFCPad != 0)
	set(saOutputMark, s.OutputMark != 0 || s.OutputMask != 0)
	set(saIfID, s.IfID != 0)
	set(saDir, s.Dir != 0)
	set(saReplay, s.Replay != nil)
	set(saESN, s.ESN != nil)
	set(saNATKeepalive, s.NATKeepalive != 0)
	set(saMappingMaxAge, s.MappingMaxAge != 0)
	b = append(b, CodecVersion)
	b = binary.AppendUvarint(b, f)
	b = append(b, s.Src.AsSlice()...)
	b = append(b, s.Mode)
	b = binary.AppendUvarint(b, uint64(s.ReqID))
	b = append(b, s.ReplayWindow, s.Flags)
	b = appendSelector(b, &s.Selector)
	b = appendLifetime(b, &s.Lifetime)
	for _, v := range []uint64{s.Current.Bytes, s.Current.Packets, s.Current.AddTime, s.Current.UseTime} {
		b = binary.AppendUvarint(b, v)
	}
	if f&saExtraFlags != 0 {
		b = binary.AppendUvarint(b, uint64(s.ExtraFlags))
	}
	for _, a := range []*Algo{s.Crypt, s.Auth, s.AEAD, s.Comp} {
		if a != nil {
			b = appendAlgo(b, a)
		}
	}
	if e := s.Encap; e != nil {
		b = binary.BigEndian.AppendUint16(b, e.Type)
		b = binary.BigEndian.AppendUint16(b, e.SPort)
		b = binary.BigEndian.AppendUint16(b, e.DPort)
		b = append(b, e.OA.AsSlice()...)
	}
	if f&saTFCPad != 0 {
		b = binary.AppendUvarint(b, uint64(s.TFCPad))
	}
	if f&saOutputMark != 0 {
		b = binary.AppendUvarint(b, uint64(s.OutputMark))
		b = binary.AppendUvarint(b, uint64(s.OutputMask))
	}
	if f&saIfID != 0 {
		b = binary.AppendUvarint(b, uint64(s.IfID))
	}
	if f&saDir != 0 {
		b = append(b, s.Dir)
	}
	if r := s.Replay; r != nil {
		b = binary.BigEndian.AppendUint32(b, r.OSeq)
		b = binary.BigEndian.AppendUint32(b, r.Seq)
		b = binary.BigEndian.AppendUint32(b, r.Bitmap)
	}
	if r := s.ESN; r != nil {
		for _, v := range []uint32{r.OSeq, r.Seq, r.OSeqHi, r.SeqHi, r.Window} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		b = append(b, byte(len(r.Bitmap)))
		for _, w := range r.Bitmap {
			b = binary.BigEndian.AppendUint32(b, w)
		}
	}
	if f&saNATKeepalive != 0 {
		b = binary.AppendUvarint(b, uint64(s.NATKeepalive))
	}
	if f&saMappingMaxAge != 0 {
		b = binary.AppendUvarint(b, uint64(s.MappingMaxAge))
	}
	return b
}

// AppendPolicyKey appends p's record key.
func AppendPolicyKey(b []byte, p *Policy) []byte {
	b = append(b, CodecVersion, KindPolicy, p.Dir, p.Type)
	b = appendSelector(b, &p.Selector)
	b = binary.BigEndian.AppendUint32(b, p.Mark)
	b = binary.BigEndian.AppendUint32(b, p.MarkMask)
	return binary.BigEndian.AppendUint32(b, p.IfID)
}

// AppendPolicyValue appends p's record value.
func AppendPolicyValue(b []byte, p *Policy) []byte {
	b = append(b, CodecVersion)
	b = binary.AppendUvarint(b, uint64(p.Priority))
	b = append(b, p.Action, p.Flags, p.Share)
	b = appendLifetime(b, &p.Lifetime)
	b = append(b, byte(len(p.Templates)))
	for _, t := range p.Templates {
		b = append(b, famByte(t.Family))
		b = append(b, t.Dst.AsSlice()...)
		b = append(b, t.Src.AsSlice()...)
		b = binary.BigEndian.AppendUint32(b, t.SPI)
		b = append(b, t.Proto)
		b = binary.AppendUvarint(b, uint64(t.ReqID))
		b = append(b, t.Mode, t.Share, t.Optional)
		b = binary.BigEndian.AppendUint32(b, t.AAlgos)
		b = binary.BigEndian.AppendUint32(b, t.EAlgos)
		b = binary.BigEndian.AppendUint32(b, t.CAlgos)
	}
	return b
}

// SARecord is the record that installs s on the standby.
func SARecord(s *SA) channel.Record {
	return channel.Record{Op: channel.Upsert, Key: AppendSAKey(nil, s), Value: AppendSAValue(make([]byte, 0, 256), s)}
}

// PolicyRecord is the record that installs p on the standby.
func PolicyRecord(p *Policy) channel.Record {
	return channel.Record{Op: channel.Upsert, Key: AppendPolicyKey(nil, p), Value: AppendPolicyValue(nil, p)}
}

// decoder reads a record; the first error sticks.
type decoder struct{ recdec.Decoder }

// nonZero reads a uvarint32 that is present only when not zero.
func (d *decoder) nonZero(what string) uint32 {
	v := d.Uvarint32(what)
	if d.Err == nil && v == 0 {
		d.Fail("%s present but zero", what)
	}
	return v
}

func (d *decoder) addr(fam byte, what string) netip.Addr {
	n := 4
	if fam == 6 {
		n = 16
	}
	if v := d.Bytes(n, what); v != nil {
		a, _ := netip.AddrFromSlice(v)
		return a
	}
	return netip.Addr{}
}

func (d *decoder) family(what string, allowZero bool) byte {
	f := d.U8(what)
	if d.Err == nil && f != 4 && f != 6 && (f != 0 || !allowZero) {
		d.Fail("%s %d, want 4 or 6", what, f)
	}
	return f
}

func afOf(f byte) uint16 {
	switch f {
	case 4:
		return unix.AF_INET
	case 6:
		return unix.AF_INET6
	}
	return 0
}

func (d *decoder) selector(s *Selector) {
	f := d.family("selector family", true)
	s.Family = afOf(f)
	af := d.family("selector address family", true)
	if d.Err == nil && (f != 0 && af != f) {
		d.Fail("selector of family %d with addresses of family %d", f, af)
	}
	if d.Err == nil && af != 0 {
		s.Dst = d.addr(af, "selector destination")
		s.Src = d.addr(af, "selector source")
	}
	if f == 0 {
		f = af
	}
	s.DPort, s.DPortMask = d.BE16("selector ports"), d.BE16("selector ports")
	s.SPort, s.SPortMask = d.BE16("selector ports"), d.BE16("selector ports")
	s.PrefixD, s.PrefixS, s.Proto = d.U8("selector prefix"), d.U8("selector prefix"), d.U8("selector protocol")
	limit := uint8(32)
	if f == 6 {
		limit = 128
	}
	if d.Err == nil && (s.PrefixD > limit || s.PrefixS > limit) {
		d.Fail("selector prefix lengths %d/%d above %d", s.PrefixD, s.PrefixS, limit)
	}
	s.Ifindex = int32(d.BE32("selector ifindex"))
	s.User = d.BE32("selector user")
}

func (d *decoder) lifetime(l *Lifetime) {
	for _, p := range []*uint64{&l.SoftBytes, &l.HardBytes, &l.SoftPackets, &l.HardPackets, &l.SoftAdd, &l.HardAdd, &l.SoftUse, &l.HardUse} {
		*p = d.Uvarint("lifetime", 1<<64-1)
	}
}

func (d *decoder) name(what string) string {
	n := int(d.U8(what + " length"))
	if d.Err == nil && (n == 0 || n >= algoNameLen) {
		d.Fail("%s length %d, want 1 to %d", what, n, algoNameLen-1)
	}
	v := d.Bytes(n, what)
	for _, c := range v {
		if c <= ' ' || c > '~' {
			d.Fail("%s has byte %#x", what, c)
			break
		}
	}
	return string(v)
}

func (d *decoder) algo(what string) *Algo {
	a := &Algo{Name: d.name(what + " name")}
	a.KeyBits = uint32(d.Uvarint(what+" key length", maxKeyBits))
	if k := d.Bytes(int((a.KeyBits+7)/8), what+" key"); k != nil {
		a.Key = append([]byte(nil), k...)
	}
	a.Extra = d.Uvarint32(what + " extra")
	return a
}

func (d *decoder) end(what string) {
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("%s has %d trailing bytes", what, len(d.B))
	}
}

func (d *decoder) version(what string) {
	if v := d.U8(what + " version"); d.Err == nil && v != CodecVersion {
		d.Fail("%s version %d, this unit speaks %d", what, v, CodecVersion)
	}
}

// Kind returns the kind of a record key (KindSA or KindPolicy).
func Kind(key []byte) (byte, error) {
	if len(key) < 2 || key[0] != CodecVersion || (key[1] != KindSA && key[1] != KindPolicy) {
		return 0, fmt.Errorf("%w: key is neither an SA's nor a policy's of version %d", ErrCodec, CodecVersion)
	}
	return key[1], nil
}

// DecodeSAKey decodes an SA key into an SA with its identity set.
func DecodeSAKey(key []byte) (SA, error) {
	var s SA
	d := decoder{recdec.Decoder{B: key, Sentinel: ErrCodec}}
	d.version("key")
	if k := d.U8("key kind"); d.Err == nil && k != KindSA {
		d.Fail("key kind %d is not an SA", k)
	}
	f := d.family("key family", false)
	s.Proto = d.U8("key protocol")
	if d.Err == nil && s.Proto != ProtoESP && s.Proto != ProtoAH && s.Proto != ProtoComp {
		d.Fail("key protocol %d is not ESP, AH or IPComp", s.Proto)
	}
	s.SPI = d.BE32("key SPI")
	s.Dst = d.addr(f, "key destination")
	s.Mark, s.MarkMask = d.BE32("key mark"), d.BE32("key mark mask")
	d.end("key")
	return s, d.Err
}

// DecodeSA decodes an SA record. It accepts only what AppendSAKey and
// AppendSAValue produce: records come from the peer over the network.
func DecodeSA(key, value []byte) (SA, error) {
	s, err := DecodeSAKey(key)
	if err != nil {
		return SA{}, err
	}
	f := famByte(famOf(s.Dst))
	d := decoder{recdec.Decoder{B: value, Sentinel: ErrCodec}}
	d.version("value")
	bits := d.Uvarint("value fields", saKnown)
	s.Src = d.addr(f, "source")
	s.Mode = d.U8("mode")
	s.ReqID = d.Uvarint32("reqid")
	s.ReplayWindow, s.Flags = d.U8("replay window"), d.U8("flags")
	d.selector(&s.Selector)
	d.lifetime(&s.Lifetime)
	for _, p := range []*uint64{&s.Current.Bytes, &s.Current.Packets, &s.Current.AddTime, &s.Current.UseTime} {
		*p = d.Uvarint("current lifetime", 1<<64-1)
	}
	if bits&saExtraFlags != 0 {
		s.ExtraFlags = d.nonZero("extra flags")
	}
	if bits&saCrypt != 0 {
		s.Crypt = d.algo("encryption")
	}
	if bits&saAuth != 0 {
		s.Auth = d.algo("authentication")
	}
	if bits&saAEAD != 0 {
		s.AEAD = d.algo("AEAD")
	}
	if bits&saComp != 0 {
		s.Comp = d.algo("compression")
	}
	if bits&saEncap != 0 {
		s.Encap = &Encap{Type: d.BE16("encap type"), SPort: d.BE16("encap port"), DPort: d.BE16("encap port")}
		s.Encap.OA = d.addr(f, "encap original address")
	}
	if bits&saTFCPad != 0 {
		s.TFCPad = d.nonZero("TFC pad")
	}
	if bits&saOutputMark != 0 {
		s.OutputMark, s.OutputMask = d.Uvarint32("output mark"), d.Uvarint32("output mark mask")
		if d.Err == nil && s.OutputMark == 0 && s.OutputMask == 0 {
			d.Fail("output mark present but zero")
		}
	}
	if bits&saIfID != 0 {
		s.IfID = d.nonZero("if_id")
	}
	if bits&saDir != 0 {
		if s.Dir = d.U8("direction"); d.Err == nil && s.Dir != SADirIn && s.Dir != SADirOut {
			d.Fail("SA direction %d, want 1 or 2", s.Dir)
		}
	}
	if bits&saReplay != 0 && bits&saESN != 0 {
		d.Fail("both replay states present")
	}
	if bits&saReplay != 0 {
		s.Replay = &Replay{OSeq: d.BE32("replay"), Seq: d.BE32("replay"), Bitmap: d.BE32("replay")}
	}
	if bits&saESN != 0 {
		r := &ReplayESN{OSeq: d.BE32("ESN"), Seq: d.BE32("ESN"), OSeqHi: d.BE32("ESN"), SeqHi: d.BE32("ESN"), Window: d.BE32("ESN")}
		n := int(d.U8("ESN bitmap length"))
		if d.Err == nil && n > esnMaxWords {
			d.Fail("ESN bitmap of %d words, at most %d", n, esnMaxWords)
		}
		r.Bitmap = make([]uint32, 0, n)
		for i := 0; i < n && d.Err == nil; i++ {
			r.Bitmap = append(r.Bitmap, d.BE32("ESN bitmap"))
		}
		s.ESN = r
	}
	if bits&saNATKeepalive != 0 {
		s.NATKeepalive = d.nonZero("NAT keepalive")
	}
	if bits&saMappingMaxAge != 0 {
		s.MappingMaxAge = d.nonZero("mapping max age")
	}
	d.end("value")
	if d.Err != nil {
		return SA{}, d.Err
	}
	return s, nil
}

// DecodePolicyKey decodes a policy key into a Policy with its identity
// set.
func DecodePolicyKey(key []byte) (Policy, error) {
	var p Policy
	d := decoder{recdec.Decoder{B: key, Sentinel: ErrCodec}}
	d.version("key")
	if k := d.U8("key kind"); d.Err == nil && k != KindPolicy {
		d.Fail("key kind %d is not a policy", k)
	}
	p.Dir, p.Type = d.U8("key direction"), d.U8("key type")
	if d.Err == nil && (p.Dir > DirFwd || p.Type > 1) {
		d.Fail("policy direction %d or type %d out of range", p.Dir, p.Type)
	}
	d.selector(&p.Selector)
	if d.Err == nil && p.Selector.Family == 0 {
		d.Fail("policy selector without family")
	}
	p.Mark, p.MarkMask, p.IfID = d.BE32("key mark"), d.BE32("key mark mask"), d.BE32("key if_id")
	d.end("key")
	return p, d.Err
}

// DecodePolicy decodes a policy record; it accepts only canonical ones.
func DecodePolicy(key, value []byte) (Policy, error) {
	p, err := DecodePolicyKey(key)
	if err != nil {
		return Policy{}, err
	}
	d := decoder{recdec.Decoder{B: value, Sentinel: ErrCodec}}
	d.version("value")
	p.Priority = d.Uvarint32("priority")
	p.Action, p.Flags, p.Share = d.U8("action"), d.U8("flags"), d.U8("share")
	d.lifetime(&p.Lifetime)
	n := int(d.U8("template count"))
	if d.Err == nil && n > maxTemplates {
		d.Fail("%d templates, at most %d", n, maxTemplates)
	}
	for i := 0; i < n && d.Err == nil; i++ {
		var t Template
		f := d.family("template family", false)
		t.Family = afOf(f)
		t.Dst, t.Src = d.addr(f, "template destination"), d.addr(f, "template source")
		t.SPI, t.Proto = d.BE32("template SPI"), d.U8("template protocol")
		t.ReqID = d.Uvarint32("template reqid")
		t.Mode, t.Share, t.Optional = d.U8("template mode"), d.U8("template share"), d.U8("template optional")
		t.AAlgos, t.EAlgos, t.CAlgos = d.BE32("template algorithms"), d.BE32("template algorithms"), d.BE32("template algorithms")
		p.Templates = append(p.Templates, t)
	}
	d.end("value")
	if d.Err != nil {
		return Policy{}, d.Err
	}
	return p, nil
}
