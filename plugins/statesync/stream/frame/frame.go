// Package frame is the wire format of the state sync stream (docs/statesync-stream.md):
// the datagram header, authentication and encryption with keys derived from the cluster
// pre-shared key (SPEC SEC-1, SEC-2), the control and data payloads, and the anti-replay
// window. It is pure: no sockets, no clock. Every error wraps one of the sentinels below so
// that callers count by errors.Is.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tandem-ha/tandem/plugins/sdk/seal"
)

// Magic is the four bytes every datagram starts with.
const Magic = "TDSS"

// Version is the only version this package reads and writes.
const Version = 1

// Sizes.
const (
	// HeaderSize is the cleartext header; it is the HMAC input prefix and the AEAD
	// additional data.
	HeaderSize = 34
	// TagSize is the HMAC-SHA256 (truncated) or AES-256-GCM tag after the payload.
	TagSize = seal.TagSize
	// Overhead is what a datagram adds to its payload.
	Overhead = HeaderSize + TagSize
	// MaxDatagram is the largest datagram Open looks at: the largest UDP payload over IPv4.
	MaxDatagram = 65507
	// MinDatagram is the smallest datagram size a sender may be configured with: it fits a
	// control message with MaxRanges ranges and a record with a MaxKeyLen key.
	MinDatagram = 1200
)

// Header offsets.
const (
	offMagic    = 0
	offVersion  = 4
	offFlags    = 5
	offType     = 6
	offReserved = 7
	offSender   = 8
	offReceiver = 16
	offPacket   = 24
	offLength   = 32
)

const (
	flagEncrypted = 1 << 0
	knownFlags    = flagEncrypted
)

// Type is what a datagram carries.
type Type uint8

// Datagram types.
const (
	// TypeControl carries a Control: role, acknowledgements, missing ranges, bulk request.
	TypeControl Type = 1
	// TypeData carries records of the channels (Data), sent by the active unit.
	TypeData Type = 2
)

// String names the type.
func (t Type) String() string {
	switch t {
	case TypeControl:
		return "control"
	case TypeData:
		return "data"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Errors.
var (
	// ErrTruncated: shorter than its header or its length field says.
	ErrTruncated = errors.New("frame: truncated datagram")
	// ErrBadMagic: not a state sync datagram.
	ErrBadMagic = errors.New("frame: bad magic")
	// ErrVersion: another version, or header flags this version does not know.
	ErrVersion = errors.New("frame: unsupported version")
	// ErrTooLarge: larger than MaxDatagram, or a field above its limit.
	ErrTooLarge = errors.New("frame: too large")
	// ErrMalformed: a field that cannot be decoded.
	ErrMalformed = errors.New("frame: malformed datagram")
	// ErrAuth: the tag did not verify under the key.
	ErrAuth = errors.New("frame: authentication failed")
	// ErrReplay: a packet number already seen or below the replay window.
	ErrReplay = errors.New("frame: replayed datagram")
	// ErrInvalid: the caller asked to encode something that cannot be sent.
	ErrInvalid = errors.New("frame: invalid datagram")
)

// Header is the cleartext, authenticated start of every datagram.
type Header struct {
	// Type is what the payload carries.
	Type Type
	// Encrypted: the payload is AES-256-GCM ciphertext (SEC-2); otherwise it is plain and
	// the tag is an HMAC.
	Encrypted bool
	// Sender is the sender's session id: random, non-zero, new at every start of an
	// endpoint. It selects the sender's AES-GCM key.
	Sender uint64
	// Receiver is the receiver's session id as the sender knows it, 0 when it does not know
	// it yet. A receiver takes in only datagrams addressed to its current session; that is
	// the freshness proof that makes a recording of an earlier session useless.
	Receiver uint64
	// Packet is the packet number: 1, 2, 3... per sender session, over all types. It is the
	// AES-GCM nonce and the replay window's sequence number; a retransmission gets a new one.
	Packet uint64
}

// ParseHeader checks the cleartext framing of b (nothing is authenticated yet) and returns
// its header and payload length.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) < len(Magic) {
		return Header{}, 0, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	if string(b[offMagic:offMagic+len(Magic)]) != Magic {
		return Header{}, 0, ErrBadMagic
	}
	if len(b) > MaxDatagram {
		return Header{}, 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxDatagram)
	}
	if len(b) < HeaderSize {
		return Header{}, 0, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(b), HeaderSize)
	}
	if v := b[offVersion]; v != Version {
		return Header{}, 0, fmt.Errorf("%w: version %d, this build speaks %d", ErrVersion, v, Version)
	}
	if f := b[offFlags]; f&^knownFlags != 0 {
		return Header{}, 0, fmt.Errorf("%w: unknown header flags %#02x", ErrVersion, f&^knownFlags)
	}
	h := Header{
		Type:      Type(b[offType]),
		Encrypted: b[offFlags]&flagEncrypted != 0,
		Sender:    binary.BigEndian.Uint64(b[offSender:]),
		Receiver:  binary.BigEndian.Uint64(b[offReceiver:]),
		Packet:    binary.BigEndian.Uint64(b[offPacket:]),
	}
	if h.Type != TypeControl && h.Type != TypeData {
		return Header{}, 0, fmt.Errorf("%w: %v", ErrVersion, h.Type)
	}
	if b[offReserved] != 0 || h.Sender == 0 || h.Packet == 0 {
		return Header{}, 0, fmt.Errorf("%w: reserved byte, sender or packet number", ErrMalformed)
	}
	plen := int(binary.BigEndian.Uint16(b[offLength:]))
	switch want := HeaderSize + plen + TagSize; {
	case len(b) < want:
		return Header{}, 0, fmt.Errorf("%w: %d bytes, the header says %d", ErrTruncated, len(b), want)
	case len(b) > want:
		return Header{}, 0, fmt.Errorf("%w: %d bytes after the tag", ErrMalformed, len(b)-want)
	}
	return h, plen, nil
}

// appendHeader appends h for a payload of plen bytes.
func appendHeader(dst []byte, h Header, plen int) []byte {
	var flags byte
	if h.Encrypted {
		flags |= flagEncrypted
	}
	dst = append(dst, Magic...)
	dst = append(dst, Version, flags, byte(h.Type), 0)
	dst = binary.BigEndian.AppendUint64(dst, h.Sender)
	dst = binary.BigEndian.AppendUint64(dst, h.Receiver)
	dst = binary.BigEndian.AppendUint64(dst, h.Packet)
	return binary.BigEndian.AppendUint16(dst, uint16(plen))
}
