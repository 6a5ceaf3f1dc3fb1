package expect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/recdec"
)

// CodecVersion starts every key and value; a decoder refuses any other.
const CodecVersion = 1

// ErrCodec is wrapped by every decoding error.
var ErrCodec = errors.New("expectation record")

// Tuple is a connection's address and port tuple. For GRE the ports are
// the keys.
type Tuple struct {
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
}

func (t Tuple) String() string {
	return fmt.Sprintf("proto %d %s", t.Proto, netip.AddrPortFrom(t.Src, t.SrcPort).String()+" -> "+netip.AddrPortFrom(t.Dst, t.DstPort).String())
}

// NAT is how the expected connection is translated (set by a NAT helper
// such as nf_nat_ftp): the saved address and port and the direction.
type NAT struct {
	Dir  uint8
	Addr netip.Addr
	Port uint16
}

// Expectation is one conntrack expectation.
type Expectation struct {
	Zone uint16
	// Master is the original tuple of the connection whose helper
	// created the expectation.
	Master Tuple
	// Tuple is the expected connection; MaskAddr and MaskPort say which
	// bits of its source address and port must match.
	Tuple    Tuple
	MaskAddr netip.Addr
	MaskPort uint16
	// Timeout is the remaining life in seconds.
	Timeout uint32
	// Flags are NF_CT_EXPECT_PERMANENT, _INACTIVE, _USERSPACE.
	Flags uint32
	// Class is the helper's expectation class (SIP: signalling, audio,
	// video); Helper the master's helper name.
	Class  uint32
	Helper string
	// Fn names the function the kernel runs on the expected connection,
	// such as "nat-follow-master".
	Fn  string
	NAT *NAT
}

func (x *Expectation) String() string {
	return fmt.Sprintf("expectation %s (master %s)", x.Tuple, x.Master)
}

// Supported reports whether expectations of protocol p are synced: the
// protocols with ports (or GRE keys) that helpers expect.
func Supported(p uint8) bool {
	switch p {
	case 6, 17, 33, 47, 132, 136:
		return true
	}
	return false
}

// Value field bits.
const (
	fieldHelper = 1 << 0
	fieldFn     = 1 << 1
	fieldNAT    = 1 << 2
	fieldFlags  = 1 << 3
	fieldClass  = 1 << 4
	fieldsKnown = 1<<5 - 1

	nameMax = 31
)

// Key layout: version, family (4/6), protocol, zone (2), expected
// source and destination address, source and destination port.
//
// Value layout: version, field bits, master protocol, master addresses
// and ports, mask address, mask port (2), timeout (uvarint), then as the
// bits announce: flags (uvarint), class (uvarint), helper (length and
// name), function (length and name), NAT (direction, address, port).

func famByte(a netip.Addr) byte {
	if a.Is4() {
		return 4
	}
	return 6
}

func appendTuple(b []byte, t Tuple) []byte {
	b = append(b, t.Src.AsSlice()...)
	b = append(b, t.Dst.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, t.SrcPort)
	return binary.BigEndian.AppendUint16(b, t.DstPort)
}

// AppendKey appends x's record key: the expected tuple and zone.
func AppendKey(b []byte, x *Expectation) []byte {
	b = append(b, CodecVersion, famByte(x.Tuple.Src), x.Tuple.Proto)
	b = binary.BigEndian.AppendUint16(b, x.Zone)
	return appendTuple(b, x.Tuple)
}

// AppendValue appends x's record value.
func AppendValue(b []byte, x *Expectation) []byte {
	var fields byte
	if x.Helper != "" {
		fields |= fieldHelper
	}
	if x.Fn != "" {
		fields |= fieldFn
	}
	if x.NAT != nil {
		fields |= fieldNAT
	}
	if x.Flags != 0 {
		fields |= fieldFlags
	}
	if x.Class != 0 {
		fields |= fieldClass
	}
	b = append(b, CodecVersion, fields, x.Master.Proto)
	b = appendTuple(b, x.Master)
	b = append(b, x.MaskAddr.AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, x.MaskPort)
	b = binary.AppendUvarint(b, uint64(x.Timeout))
	if fields&fieldFlags != 0 {
		b = binary.AppendUvarint(b, uint64(x.Flags))
	}
	if fields&fieldClass != 0 {
		b = binary.AppendUvarint(b, uint64(x.Class))
	}
	if fields&fieldHelper != 0 {
		b = append(append(b, byte(len(x.Helper))), x.Helper...)
	}
	if fields&fieldFn != 0 {
		b = append(append(b, byte(len(x.Fn))), x.Fn...)
	}
	if x.NAT != nil {
		b = append(b, x.NAT.Dir)
		b = append(b, x.NAT.Addr.AsSlice()...)
		b = binary.BigEndian.AppendUint16(b, x.NAT.Port)
	}
	return b
}

// UpsertRecord is the record that installs x on the standby.
func UpsertRecord(x *Expectation) channel.Record {
	return channel.Record{Op: channel.Upsert, Key: AppendKey(nil, x), Value: AppendValue(nil, x)}
}

// DeleteRecord is the record that removes x from the standby.
func DeleteRecord(x *Expectation) channel.Record {
	return channel.Record{Op: channel.Delete, Key: AppendKey(nil, x)}
}

// decoder reads a record; the first error sticks.
type decoder struct{ recdec.Decoder }

func (d *decoder) tuple(t *Tuple, alen int, what string) {
	t.Src = d.Addr(alen, what+" source address")
	t.Dst = d.Addr(alen, what+" destination address")
	t.SrcPort = d.BE16(what + " source port")
	t.DstPort = d.BE16(what + " destination port")
}

func (d *decoder) name(what string) string {
	n := int(d.U8(what + " length"))
	if d.Err == nil && (n == 0 || n > nameMax) {
		d.Fail("%s length %d, want 1 to %d", what, n, nameMax)
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

// DecodeKey decodes a record key into an Expectation with Zone and Tuple
// set, and returns the address length.
func DecodeKey(key []byte) (Expectation, int, error) {
	var x Expectation
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
	x.Tuple.Proto = d.U8("key protocol")
	if d.Err == nil && !Supported(x.Tuple.Proto) {
		d.Fail("key protocol %d is not synced", x.Tuple.Proto)
	}
	x.Zone = d.BE16("key zone")
	d.tuple(&x.Tuple, alen, "key")
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("key has %d trailing bytes", len(d.B))
	}
	return x, alen, d.Err
}

// Decode decodes an Upsert record. It accepts only what AppendKey and
// AppendValue produce: records come from the peer over the network.
func Decode(key, value []byte) (Expectation, error) {
	x, alen, err := DecodeKey(key)
	if err != nil {
		return Expectation{}, err
	}
	d := decoder{recdec.Decoder{B: value, Sentinel: ErrCodec}}
	if v := d.U8("value version"); d.Err == nil && v != CodecVersion {
		d.Fail("value version %d, this unit speaks %d", v, CodecVersion)
	}
	fields := d.U8("value fields")
	if d.Err == nil && fields&^fieldsKnown != 0 {
		d.Fail("value has unknown field bits %#x", fields&^fieldsKnown)
	}
	x.Master.Proto = d.U8("master protocol")
	if d.Err == nil && x.Master.Proto == 0 {
		d.Fail("master protocol 0")
	}
	d.tuple(&x.Master, alen, "master")
	x.MaskAddr = d.Addr(alen, "mask address")
	x.MaskPort = d.BE16("mask port")
	x.Timeout = d.Uvarint32("timeout")
	if fields&fieldFlags != 0 {
		if x.Flags = d.Uvarint32("flags"); d.Err == nil && x.Flags == 0 {
			d.Fail("flags field present but zero")
		}
	}
	if fields&fieldClass != 0 {
		if x.Class = d.Uvarint32("class"); d.Err == nil && x.Class == 0 {
			d.Fail("class field present but zero")
		}
	}
	if fields&fieldHelper != 0 {
		x.Helper = d.name("helper name")
	}
	if fields&fieldFn != 0 {
		x.Fn = d.name("function name")
	}
	if fields&fieldNAT != 0 {
		n := &NAT{Dir: d.U8("NAT direction")}
		if d.Err == nil && n.Dir > 1 {
			d.Fail("NAT direction %d, want 0 or 1", n.Dir)
		}
		n.Addr = d.Addr(alen, "NAT address")
		n.Port = d.BE16("NAT port")
		x.NAT = n
	}
	if d.Err == nil && len(d.B) != 0 {
		d.Fail("value has %d trailing bytes", len(d.B))
	}
	if d.Err != nil {
		return Expectation{}, d.Err
	}
	return x, nil
}
