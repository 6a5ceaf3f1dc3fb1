package conntrack

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/recdec"
)

// CodecVersion is the version byte that starts every key and value. A
// decoder rejects any other version: both units must run the same
// encoding (a change of layout takes a new version).
const CodecVersion = 1

// ErrCodec is wrapped by every decoding error.
var ErrCodec = errors.New("conntrack record")

// Value field bits: which optional fields follow the fixed part.
const (
	fieldMark   = 1 << 0
	fieldReply  = 1 << 1 // the reply tuple differs from the inverted original (NAT)
	fieldLabels = 1 << 2
	fieldTCP    = 1 << 3
	fieldSCTP   = 1 << 4
	fieldDCCP   = 1 << 5
	fieldHelper = 1 << 6
	fieldsKnown = 1<<7 - 1
)

// maxKeyLen is the length of an IPv6 key.
const maxKeyLen = 5 + 2*16 + 4

// helperNameMax is the longest helper name (NF_CT_HELPER_NAME_LEN - 1).
const helperNameMax = 15

// Key layout: version, address family (4 or 6), protocol, zone (2 bytes),
// source and destination address, then 4 bytes of layer 4 identity
// (source and destination port, or ICMP id, type and code).
//
// Value layout: version, field bits, status and timeout as uvarints, then
// the fields the bits announce in bit order: mark (uvarint), reply tuple
// (addresses and 4 bytes of layer 4 identity), labels (length byte and
// bytes), TCP (state, window scale and flags for each direction: 5 bytes),
// SCTP (state, two verification tags: 9 bytes), DCCP (state, role,
// handshake sequence: 10 bytes), helper (length byte and name).

// AppendKey appends the record key of f: its original tuple and zone.
func AppendKey(b []byte, f *Flow) []byte {
	fam := byte(4)
	if !f.Orig.Src.Is4() {
		fam = 6
	}
	b = append(b, CodecVersion, fam, f.Orig.Proto)
	b = binary.BigEndian.AppendUint16(b, f.Zone)
	return appendTupleBody(b, f.Orig)
}

func appendTupleBody(b []byte, t Tuple) []byte {
	b = append(b, t.Src.AsSlice()...)
	b = append(b, t.Dst.AsSlice()...)
	switch {
	case isICMP(t.Proto):
		b = binary.BigEndian.AppendUint16(b, t.ICMPID)
		return append(b, t.ICMPType, t.ICMPCode)
	case hasPorts(t.Proto):
		b = binary.BigEndian.AppendUint16(b, t.SrcPort)
		return binary.BigEndian.AppendUint16(b, t.DstPort)
	}
	return append(b, 0, 0, 0, 0)
}

// AppendValue appends the record value of f.
func AppendValue(b []byte, f *Flow) []byte {
	var fields byte
	if f.Mark != 0 {
		fields |= fieldMark
	}
	if f.Reply != f.Orig.Inverse() {
		fields |= fieldReply
	}
	if len(f.Labels) > 0 {
		fields |= fieldLabels
	}
	switch {
	case f.TCP != nil:
		fields |= fieldTCP
	case f.SCTP != nil:
		fields |= fieldSCTP
	case f.DCCP != nil:
		fields |= fieldDCCP
	}
	if f.Helper != "" {
		fields |= fieldHelper
	}
	b = append(b, CodecVersion, fields)
	b = binary.AppendUvarint(b, uint64(f.Status))
	b = binary.AppendUvarint(b, uint64(f.Timeout))
	if fields&fieldMark != 0 {
		b = binary.AppendUvarint(b, uint64(f.Mark))
	}
	if fields&fieldReply != 0 {
		b = appendTupleBody(b, f.Reply)
	}
	if fields&fieldLabels != 0 {
		b = append(b, byte(len(f.Labels)))
		b = append(b, f.Labels...)
	}
	switch {
	case f.TCP != nil:
		t := f.TCP
		b = append(b, t.State, t.WScaleOrig, t.WScaleReply, t.FlagsOrig, t.FlagsReply)
	case f.SCTP != nil:
		b = append(b, f.SCTP.State)
		b = binary.BigEndian.AppendUint32(b, f.SCTP.VTagOrig)
		b = binary.BigEndian.AppendUint32(b, f.SCTP.VTagReply)
	case f.DCCP != nil:
		b = append(b, f.DCCP.State, f.DCCP.Role)
		b = binary.BigEndian.AppendUint64(b, f.DCCP.HandshakeSeq)
	}
	if fields&fieldHelper != 0 {
		b = append(b, byte(len(f.Helper)))
		b = append(b, f.Helper...)
	}
	return b
}

// UpsertRecord is the record that creates or updates f on the standby.
func UpsertRecord(f *Flow) channel.Record {
	return channel.Record{Op: channel.Upsert, Key: AppendKey(make([]byte, 0, maxKeyLen), f), Value: AppendValue(make([]byte, 0, 48), f)}
}

// DeleteRecord is the record that removes f from the standby.
func DeleteRecord(f *Flow) channel.Record {
	return channel.Record{Op: channel.Delete, Key: AppendKey(make([]byte, 0, maxKeyLen), f)}
}

// decoder reads a record; the first error sticks.
type decoder struct{ recdec.Decoder }

func (d *decoder) version(what string) {
	if v := d.U8(what + " version"); d.Err == nil && v != CodecVersion {
		d.Fail("%s version %d, this unit speaks %d", what, v, CodecVersion)
	}
}

func (d *decoder) tupleBody(t *Tuple, alen int, what string) {
	src := d.Bytes(alen, what+" source address")
	dst := d.Bytes(alen, what+" destination address")
	l4 := d.Bytes(4, what+" layer 4 identity")
	if d.Err != nil {
		return
	}
	t.Src, _ = netip.AddrFromSlice(src)
	t.Dst, _ = netip.AddrFromSlice(dst)
	switch {
	case isICMP(t.Proto):
		t.ICMPID = binary.BigEndian.Uint16(l4)
		t.ICMPType, t.ICMPCode = l4[2], l4[3]
	case hasPorts(t.Proto):
		t.SrcPort = binary.BigEndian.Uint16(l4)
		t.DstPort = binary.BigEndian.Uint16(l4[2:])
	default:
		if binary.BigEndian.Uint32(l4) != 0 {
			d.Fail("%s: protocol %d has no ports but they are set", what, t.Proto)
		}
	}
}

// DecodeKey decodes a record key into the original tuple and zone.
func DecodeKey(key []byte) (orig Tuple, zone uint16, alen int, err error) {
	d := decoder{recdec.Decoder{B: key, Sentinel: ErrCodec}}
	d.version("key")
	fam := d.U8("key family")
	orig.Proto = d.U8("key protocol")
	zone = d.BE16("key zone")
	if d.Err == nil {
		switch fam {
		case 4:
			alen = 4
		case 6:
			alen = 16
		default:
			d.Fail("key family %d, want 4 or 6", fam)
		}
	}
	if d.Err == nil && !Supported(orig.Proto) {
		d.Fail("key protocol %d is not synced", orig.Proto)
	}
	d.tupleBody(&orig, alen, "key")
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("key has %d trailing bytes", len(d.B))
	}
	return orig, zone, alen, d.Err
}

// Decode decodes an Upsert record's key and value into a Flow. It accepts
// only what AppendKey and AppendValue produce: records come from the peer
// over the network.
func Decode(key, value []byte) (Flow, error) {
	var f Flow
	var alen int
	var err error
	f.Orig, f.Zone, alen, err = DecodeKey(key)
	if err != nil {
		return Flow{}, err
	}
	d := decoder{recdec.Decoder{B: value, Sentinel: ErrCodec}}
	d.version("value")
	fields := d.U8("value fields")
	if d.Err == nil && fields&^fieldsKnown != 0 {
		d.Fail("value has unknown field bits %#x", fields&^fieldsKnown)
	}
	f.Status = Status(d.Uvarint32("status"))
	f.Timeout = d.Uvarint32("timeout")
	if fields&fieldMark != 0 {
		if f.Mark = d.Uvarint32("mark"); d.Err == nil && f.Mark == 0 {
			d.Fail("mark field present but zero")
		}
	}
	if fields&fieldReply != 0 {
		f.Reply.Proto = f.Orig.Proto
		if d.tupleBody(&f.Reply, alen, "reply tuple"); d.Err == nil && f.Reply == f.Orig.Inverse() {
			d.Fail("reply tuple present but not translated")
		}
	} else {
		f.Reply = f.Orig.Inverse()
	}
	if fields&fieldLabels != 0 {
		n := int(d.U8("labels length"))
		if d.Err == nil && (n == 0 || n > labelsMaxBytes || n%4 != 0) {
			d.Fail("labels length %d, want 4, 8, 12 or 16", n)
		}
		if l := d.Bytes(n, "labels"); l != nil {
			f.Labels = append([]byte(nil), l...)
		}
	}
	if n := bitsSet(fields & (fieldTCP | fieldSCTP | fieldDCCP)); n > 1 {
		d.Fail("value has %d protocol infos, want at most one", n)
	}
	d.protoinfo(&f, fields)
	if fields&fieldHelper != 0 {
		n := int(d.U8("helper length"))
		if d.Err == nil && (n == 0 || n > helperNameMax) {
			d.Fail("helper name length %d, want 1 to %d", n, helperNameMax)
		}
		if h := d.Bytes(n, "helper name"); h != nil {
			for _, c := range h {
				if c <= ' ' || c > '~' {
					d.Fail("helper name has byte %#x", c)
					break
				}
			}
			f.Helper = string(h)
		}
	}
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("value has %d trailing bytes", len(d.B))
	}
	if d.Err != nil {
		return Flow{}, d.Err
	}
	return f, nil
}

func (d *decoder) protoinfo(f *Flow, fields byte) {
	p := f.Orig.Proto
	switch {
	case fields&fieldTCP != 0:
		if p != ProtoTCP {
			d.Fail("TCP info on protocol %d", p)
			return
		}
		b := d.Bytes(5, "TCP info")
		if b == nil {
			return
		}
		t := &TCPInfo{State: b[0], WScaleOrig: b[1], WScaleReply: b[2], FlagsOrig: b[3], FlagsReply: b[4]}
		if t.State > TCPSynSent2 || t.WScaleOrig > 14 || t.WScaleReply > 14 {
			d.Fail("TCP state %d or window scale %d/%d out of range", t.State, t.WScaleOrig, t.WScaleReply)
			return
		}
		f.TCP = t
	case fields&fieldSCTP != 0:
		if p != ProtoSCTP {
			d.Fail("SCTP info on protocol %d", p)
			return
		}
		s := &SCTPInfo{State: d.U8("SCTP state"), VTagOrig: d.BE32("SCTP tag"), VTagReply: d.BE32("SCTP reply tag")}
		if d.Err == nil && s.State >= sctpStates {
			d.Fail("SCTP state %d out of range", s.State)
		}
		f.SCTP = s
	case fields&fieldDCCP != 0:
		if p != ProtoDCCP {
			d.Fail("DCCP info on protocol %d", p)
			return
		}
		b := d.Bytes(10, "DCCP info")
		if b == nil {
			return
		}
		f.DCCP = &DCCPInfo{State: b[0], Role: b[1], HandshakeSeq: binary.BigEndian.Uint64(b[2:])}
	}
}

// sctpStates is SCTP_CONNTRACK_MAX.
const sctpStates = 10

func bitsSet(b byte) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}
