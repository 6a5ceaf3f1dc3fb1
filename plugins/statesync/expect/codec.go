package expect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
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
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCodec}, a...)...)
	}
}

func (d *decoder) bytes(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("%s: need %d bytes, have %d", what, n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(what string) uint8 {
	if v := d.bytes(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) be16(what string) uint16 {
	if v := d.bytes(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) addr(alen int, what string) netip.Addr {
	if v := d.bytes(alen, what); v != nil {
		a, _ := netip.AddrFromSlice(v)
		return a
	}
	return netip.Addr{}
}

func (d *decoder) uvarint32(what string) uint32 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > 1<<32-1 || n != len(binary.AppendUvarint(nil, v)) {
		d.fail("%s: bad, oversized or non-minimal varint", what)
		return 0
	}
	d.b = d.b[n:]
	return uint32(v)
}

func (d *decoder) tuple(t *Tuple, alen int, what string) {
	t.Src = d.addr(alen, what+" source address")
	t.Dst = d.addr(alen, what+" destination address")
	t.SrcPort = d.be16(what + " source port")
	t.DstPort = d.be16(what + " destination port")
}

func (d *decoder) name(what string) string {
	n := int(d.u8(what + " length"))
	if d.err == nil && (n == 0 || n > nameMax) {
		d.fail("%s length %d, want 1 to %d", what, n, nameMax)
	}
	v := d.bytes(n, what)
	for _, c := range v {
		if c <= ' ' || c > '~' {
			d.fail("%s has byte %#x", what, c)
			break
		}
	}
	return string(v)
}

// DecodeKey decodes a record key into an Expectation with Zone and Tuple
// set, and returns the address length.
func DecodeKey(key []byte) (Expectation, int, error) {
	var x Expectation
	d := decoder{b: key}
	if v := d.u8("key version"); d.err == nil && v != CodecVersion {
		d.fail("key version %d, this unit speaks %d", v, CodecVersion)
	}
	alen := 0
	switch fam := d.u8("key family"); {
	case d.err != nil:
	case fam == 4:
		alen = 4
	case fam == 6:
		alen = 16
	default:
		d.fail("key family %d, want 4 or 6", fam)
	}
	x.Tuple.Proto = d.u8("key protocol")
	if d.err == nil && !Supported(x.Tuple.Proto) {
		d.fail("key protocol %d is not synced", x.Tuple.Proto)
	}
	x.Zone = d.be16("key zone")
	d.tuple(&x.Tuple, alen, "key")
	if d.err == nil && len(d.b) != 0 {
		d.fail("key has %d trailing bytes", len(d.b))
	}
	return x, alen, d.err
}

// Decode decodes an Upsert record. It accepts only what AppendKey and
// AppendValue produce: records come from the peer over the network.
func Decode(key, value []byte) (Expectation, error) {
	x, alen, err := DecodeKey(key)
	if err != nil {
		return Expectation{}, err
	}
	d := decoder{b: value}
	if v := d.u8("value version"); d.err == nil && v != CodecVersion {
		d.fail("value version %d, this unit speaks %d", v, CodecVersion)
	}
	fields := d.u8("value fields")
	if d.err == nil && fields&^fieldsKnown != 0 {
		d.fail("value has unknown field bits %#x", fields&^fieldsKnown)
	}
	x.Master.Proto = d.u8("master protocol")
	if d.err == nil && x.Master.Proto == 0 {
		d.fail("master protocol 0")
	}
	d.tuple(&x.Master, alen, "master")
	x.MaskAddr = d.addr(alen, "mask address")
	x.MaskPort = d.be16("mask port")
	x.Timeout = d.uvarint32("timeout")
	if fields&fieldFlags != 0 {
		if x.Flags = d.uvarint32("flags"); d.err == nil && x.Flags == 0 {
			d.fail("flags field present but zero")
		}
	}
	if fields&fieldClass != 0 {
		if x.Class = d.uvarint32("class"); d.err == nil && x.Class == 0 {
			d.fail("class field present but zero")
		}
	}
	if fields&fieldHelper != 0 {
		x.Helper = d.name("helper name")
	}
	if fields&fieldFn != 0 {
		x.Fn = d.name("function name")
	}
	if fields&fieldNAT != 0 {
		n := &NAT{Dir: d.u8("NAT direction")}
		if d.err == nil && n.Dir > 1 {
			d.fail("NAT direction %d, want 0 or 1", n.Dir)
		}
		n.Addr = d.addr(alen, "NAT address")
		n.Port = d.be16("NAT port")
		x.NAT = n
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("value has %d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Expectation{}, d.err
	}
	return x, nil
}
