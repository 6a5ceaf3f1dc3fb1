package conntrack

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Netlink attribute (struct nlattr) layout: a 16-bit length that counts the
// 4-byte header, a 16-bit type whose two top bits are flags, the payload,
// and padding to a multiple of 4.
const (
	nlaHeaderLen  = 4
	nlaFNested    = 0x8000
	nlaFByteOrder = 0x4000
	nlaTypeMask   = ^uint16(nlaFNested | nlaFByteOrder)
)

// errAttr is wrapped by every malformed-attribute error.
var errAttr = errors.New("malformed netlink attribute")

func nlaAlign(n int) int { return (n + 3) &^ 3 }

// attrEncoder appends netlink attributes to a buffer.
type attrEncoder struct{ b []byte }

func (e *attrEncoder) put(typ uint16, data []byte) {
	l := nlaHeaderLen + len(data)
	e.b = binary.NativeEndian.AppendUint16(e.b, uint16(l))
	e.b = binary.NativeEndian.AppendUint16(e.b, typ)
	e.b = append(e.b, data...)
	for i := l; i < nlaAlign(l); i++ {
		e.b = append(e.b, 0)
	}
}

func (e *attrEncoder) u8(typ uint16, v uint8) { e.put(typ, []byte{v}) }

func (e *attrEncoder) be16(typ uint16, v uint16) {
	e.put(typ, binary.BigEndian.AppendUint16(nil, v))
}

func (e *attrEncoder) be32(typ uint16, v uint32) {
	e.put(typ, binary.BigEndian.AppendUint32(nil, v))
}

// str puts a NUL-terminated string, as the kernel's NLA_NUL_STRING wants.
func (e *attrEncoder) str(typ uint16, s string) {
	e.put(typ, append([]byte(s), 0))
}

// nest starts a nested attribute and returns the offset to pass to end.
func (e *attrEncoder) nest(typ uint16) int {
	off := len(e.b)
	e.b = binary.NativeEndian.AppendUint16(e.b, 0)
	e.b = binary.NativeEndian.AppendUint16(e.b, typ|nlaFNested)
	return off
}

func (e *attrEncoder) end(off int) {
	binary.NativeEndian.PutUint16(e.b[off:], uint16(len(e.b)-off))
}

// attrIter walks the attributes of one level. It never panics on bad
// input: a malformed attribute stops the walk and sets err.
type attrIter struct {
	b    []byte
	typ  uint16
	data []byte
	err  error
}

func newAttrIter(b []byte) attrIter { return attrIter{b: b} }

func (it *attrIter) next() bool {
	if it.err != nil || len(it.b) < nlaHeaderLen {
		if it.err == nil && len(it.b) != 0 {
			it.err = fmt.Errorf("%w: %d trailing bytes", errAttr, len(it.b))
		}
		return false
	}
	l := int(binary.NativeEndian.Uint16(it.b))
	if l < nlaHeaderLen || l > len(it.b) {
		it.err = fmt.Errorf("%w: length %d with %d bytes left", errAttr, l, len(it.b))
		return false
	}
	it.typ = binary.NativeEndian.Uint16(it.b[2:]) & nlaTypeMask
	it.data = it.b[nlaHeaderLen:l]
	if a := nlaAlign(l); a <= len(it.b) {
		it.b = it.b[a:]
	} else {
		it.b = nil
	}
	return true
}

func (it *attrIter) u8() (uint8, error) {
	if len(it.data) < 1 {
		return 0, fmt.Errorf("%w: type %d: want 1 byte", errAttr, it.typ)
	}
	return it.data[0], nil
}

func (it *attrIter) be16() (uint16, error) {
	if len(it.data) < 2 {
		return 0, fmt.Errorf("%w: type %d: want 2 bytes", errAttr, it.typ)
	}
	return binary.BigEndian.Uint16(it.data), nil
}

func (it *attrIter) be32() (uint32, error) {
	if len(it.data) < 4 {
		return 0, fmt.Errorf("%w: type %d: want 4 bytes", errAttr, it.typ)
	}
	return binary.BigEndian.Uint32(it.data), nil
}

// cstr returns the payload up to its first NUL.
func (it *attrIter) cstr() string {
	for i, c := range it.data {
		if c == 0 {
			return string(it.data[:i])
		}
	}
	return string(it.data)
}
