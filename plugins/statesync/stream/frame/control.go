package frame

import (
	"encoding/binary"
	"fmt"
)

// Role is what the sender of a Control is in the pair, as far as state sync goes.
type Role uint8

// Roles.
const (
	// RoleOther: neither sends nor installs records (initializing, faulted, standalone, ...).
	RoleOther Role = 0
	// RoleActive: sends its channels' records.
	RoleActive Role = 1
	// RoleStandby: installs the records it receives.
	RoleStandby Role = 2
)

// String names the role.
func (r Role) String() string {
	switch r {
	case RoleOther:
		return "other"
	case RoleActive:
		return "active"
	case RoleStandby:
		return "standby"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// MaxRanges is the most missing ranges one Control reports.
const MaxRanges = 32

// Range is the inclusive range of data sequence numbers First..Last.
type Range struct {
	First, Last uint64
}

// Control is the payload of TypeControl datagrams. Both units send it as keep-alive and
// handshake; the standby's carries the acknowledgements of the data stream.
type Control struct {
	// Role is the sender's role.
	Role Role
	// BulkComplete: the sender (a standby) has finished a bulk sync (SYNC-7).
	BulkComplete bool
	// BulkRequest: the sender (a standby) asks for a new generation, i.e. a full bulk
	// sync, unless one began after Gen.
	BulkRequest bool
	// Gen is the generation the sender receives: the data sequence number of the
	// generation's first datagram (BULK_BEGIN); 0 for none.
	Gen uint64
	// Ack is the cumulative acknowledgement: every data sequence number in Gen..Ack arrived
	// (Ack = Gen-1 when none did).
	Ack uint64
	// Applied: every data sequence number up to Applied is installed.
	Applied uint64
	// Highest is the highest data sequence number received in Gen.
	Highest uint64
	// Missing are the ranges above Ack and below Highest that did not arrive (NACK), in
	// increasing order; data sequence numbers between them did arrive (SACK).
	Missing []Range
}

const (
	cflagBulkComplete = 1 << 0
	cflagBulkRequest  = 1 << 1
	controlFixed      = 35
	rangeSize         = 12
	maxRangeLen       = 1<<32 - 1
)

// AppendControl appends the encoded c to dst.
func AppendControl(dst []byte, c *Control) ([]byte, error) {
	if len(c.Missing) > MaxRanges {
		return nil, fmt.Errorf("%w: %d missing ranges, at most %d", ErrInvalid, len(c.Missing), MaxRanges)
	}
	var flags byte
	if c.BulkComplete {
		flags |= cflagBulkComplete
	}
	if c.BulkRequest {
		flags |= cflagBulkRequest
	}
	dst = append(dst, byte(c.Role), flags)
	dst = binary.BigEndian.AppendUint64(dst, c.Gen)
	dst = binary.BigEndian.AppendUint64(dst, c.Ack)
	dst = binary.BigEndian.AppendUint64(dst, c.Applied)
	dst = binary.BigEndian.AppendUint64(dst, c.Highest)
	dst = append(dst, byte(len(c.Missing)))
	for _, r := range c.Missing {
		if r.Last < r.First || r.Last-r.First >= maxRangeLen {
			return nil, fmt.Errorf("%w: missing range %d..%d", ErrInvalid, r.First, r.Last)
		}
		dst = binary.BigEndian.AppendUint64(dst, r.First)
		dst = binary.BigEndian.AppendUint32(dst, uint32(r.Last-r.First+1))
	}
	return dst, nil
}

// ParseControl decodes a Control payload. Bytes after the ranges are an extension area that
// version 1 ignores.
func ParseControl(p []byte) (Control, error) {
	if len(p) < controlFixed {
		return Control{}, fmt.Errorf("%w: control of %d bytes, at least %d", ErrMalformed, len(p), controlFixed)
	}
	c := Control{
		Role:         Role(p[0]),
		BulkComplete: p[1]&cflagBulkComplete != 0,
		BulkRequest:  p[1]&cflagBulkRequest != 0,
		Gen:          binary.BigEndian.Uint64(p[2:]),
		Ack:          binary.BigEndian.Uint64(p[10:]),
		Applied:      binary.BigEndian.Uint64(p[18:]),
		Highest:      binary.BigEndian.Uint64(p[26:]),
	}
	if c.Role > RoleStandby {
		return Control{}, fmt.Errorf("%w: role %d", ErrMalformed, p[0])
	}
	n := int(p[34])
	if n > MaxRanges {
		return Control{}, fmt.Errorf("%w: %d missing ranges, at most %d", ErrMalformed, n, MaxRanges)
	}
	if len(p) < controlFixed+n*rangeSize {
		return Control{}, fmt.Errorf("%w: %d missing ranges in %d bytes", ErrMalformed, n, len(p))
	}
	if n > 0 {
		c.Missing = make([]Range, n)
	}
	prev := c.Ack
	for i := range n {
		o := controlFixed + i*rangeSize
		first := binary.BigEndian.Uint64(p[o:])
		count := uint64(binary.BigEndian.Uint32(p[o+8:]))
		if count == 0 || first <= prev || first+count-1 < first {
			return Control{}, fmt.Errorf("%w: missing range %d+%d out of order", ErrMalformed, first, count)
		}
		c.Missing[i] = Range{First: first, Last: first + count - 1}
		prev = c.Missing[i].Last
	}
	return c, nil
}
