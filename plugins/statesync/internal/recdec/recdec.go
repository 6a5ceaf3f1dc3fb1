// Package recdec reads the binary records of the statesync channels:
// big-endian integers, minimal uvarints and byte runs, each named for its
// error, where the first error sticks and every later read returns zero.
package recdec

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Decoder reads one record.
type Decoder struct {
	// B is what is left to read.
	B []byte
	// Err is the first error; once set, every read returns zero.
	Err error
	// Sentinel is wrapped by every error (a channel's ErrCodec).
	Sentinel error
}

// Fail records an error unless one is recorded already.
func (d *Decoder) Fail(format string, a ...any) {
	if d.Err == nil {
		d.Err = fmt.Errorf("%w: "+format, append([]any{d.Sentinel}, a...)...)
	}
}

// Bytes reads n bytes.
func (d *Decoder) Bytes(n int, what string) []byte {
	if d.Err != nil {
		return nil
	}
	if n < 0 || len(d.B) < n {
		d.Fail("%s: need %d bytes, have %d", what, n, len(d.B))
		return nil
	}
	v := d.B[:n]
	d.B = d.B[n:]
	return v
}

// Addr reads an IPv4 (n 4) or IPv6 (n 16) address.
func (d *Decoder) Addr(n int, what string) netip.Addr {
	if v := d.Bytes(n, what); v != nil {
		a, _ := netip.AddrFromSlice(v)
		return a
	}
	return netip.Addr{}
}

// U8 reads a byte.
func (d *Decoder) U8(what string) uint8 {
	if v := d.Bytes(1, what); v != nil {
		return v[0]
	}
	return 0
}

// BE16 reads a big-endian uint16.
func (d *Decoder) BE16(what string) uint16 {
	if v := d.Bytes(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// BE32 reads a big-endian uint32.
func (d *Decoder) BE32(what string) uint32 {
	if v := d.Bytes(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// Uvarint reads a uvarint of at most max in its minimal encoding (records
// have one encoding only).
func (d *Decoder) Uvarint(what string, max uint64) uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	if n <= 0 || v > max || n != len(binary.AppendUvarint(nil, v)) {
		d.Fail("%s: bad, oversized or non-minimal varint", what)
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Uvarint32 reads a uvarint of at most 32 bits.
func (d *Decoder) Uvarint32(what string) uint32 { return uint32(d.Uvarint(what, 1<<32-1)) }
