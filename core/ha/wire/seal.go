package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tandem-ha/tandem/plugins/sdk/seal"
)

// header is the parsed cleartext header of a datagram, not yet authenticated.
type header struct {
	flags      byte
	epoch      uint32
	seq        uint64
	timestamp  int64
	serial     string
	hdrLen     int // bytes up to the payload: the HMAC input prefix and the AEAD additional data
	payloadLen int // payload (plaintext) length; the body is payloadLen bytes, then TagSize
}

// nonce returns the AEAD nonce of a message: epoch and sequence number, which never repeat for
// one sender under one key as long as epochs only grow (NextEpoch).
func nonce(epoch uint32, seq uint64) []byte {
	n := seal.Nonce(epoch, seq)
	return n[:]
}

// Seal encodes m and authenticates it with k: HMAC-SHA256 (truncated to TagSize) over header and
// payload, or, when encrypt is set, AES-256-GCM with the header as additional data (SEC-2).
// m.Encrypted is ignored. It returns ErrNoKey, ErrInvalid or ErrTooLarge for a message that
// cannot be sent.
func Seal(k Key, m *Message, encrypt bool) ([]byte, error) {
	if k.IsZero() {
		return nil, ErrNoKey
	}
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrInvalid)
	}
	if len(m.Serial) > MaxSerialLen {
		return nil, fmt.Errorf("%w: serial is %d bytes, at most %d", ErrTooLarge, len(m.Serial), MaxSerialLen)
	}
	if !validSerial(m.Serial) {
		return nil, fmt.Errorf("%w: serial %q, want [A-Za-z0-9-]+", ErrInvalid, m.Serial)
	}
	if err := checkPayload(&m.Payload, ErrInvalid); err != nil {
		return nil, err
	}
	plen := payloadLen(&m.Payload)
	hlen := fixedHeaderLen + len(m.Serial)
	out := make([]byte, 0, hlen+plen+TagSize)

	var flags byte
	if encrypt {
		flags |= flagEncrypted
	}
	out = append(out, Magic...)
	out = append(out, Version, flags)
	out = binary.BigEndian.AppendUint16(out, uint16(plen))
	out = binary.BigEndian.AppendUint32(out, m.Epoch)
	out = binary.BigEndian.AppendUint64(out, m.Seq)
	out = binary.BigEndian.AppendUint64(out, uint64(m.Timestamp))
	out = append(out, byte(len(m.Serial)))
	out = append(out, m.Serial...)
	out = appendPayload(out, &m.Payload)

	if !encrypt {
		return seal.AppendTag(out, k.hmac[:], out), nil
	}
	aead, err := k.senderAEAD(m.Serial)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	// Seal in place: the payload is overwritten by its ciphertext and the tag appended.
	return aead.Seal(out[:hlen], nonce(m.Epoch, m.Seq), out[hlen:], out[:hlen]), nil
}

// Open authenticates b with k and decodes it. Nothing of the payload is parsed before the tag
// has been verified (in constant time). Errors wrap one of ErrTruncated, ErrBadMagic,
// ErrVersion, ErrTooLarge, ErrMalformed, ErrAuth and ErrNoKey. Open does not check sequence
// numbers: pass the result to the sender's ReplayWindow.
func Open(k Key, b []byte) (*Message, error) {
	if k.IsZero() {
		return nil, ErrNoKey
	}
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	return openWith(k, b, h)
}

// parseHeader checks the cleartext framing of b before any cryptography.
func parseHeader(b []byte) (header, error) {
	if len(b) < len(Magic) {
		return header{}, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	if string(b[offMagic:offMagic+len(Magic)]) != Magic {
		return header{}, ErrBadMagic
	}
	if len(b) > MaxMessageSize {
		return header{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxMessageSize)
	}
	if len(b) <= offVersion {
		return header{}, fmt.Errorf("%w: %d bytes", ErrTruncated, len(b))
	}
	if v := b[offVersion]; v != Version {
		return header{}, fmt.Errorf("%w: version %d, this build speaks %d", ErrVersion, v, Version)
	}
	if len(b) < fixedHeaderLen {
		return header{}, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(b), fixedHeaderLen)
	}
	h := header{
		flags:      b[offFlags],
		payloadLen: int(binary.BigEndian.Uint16(b[offLength:])),
		epoch:      binary.BigEndian.Uint32(b[offEpoch:]),
		seq:        binary.BigEndian.Uint64(b[offSeq:]),
		timestamp:  int64(binary.BigEndian.Uint64(b[offTimestamp:])),
	}
	if h.flags&^knownFlags != 0 {
		return header{}, fmt.Errorf("%w: unknown header flags %#02x", ErrVersion, h.flags&^knownFlags)
	}
	slen := int(b[offSerialLen])
	if slen > MaxSerialLen {
		return header{}, fmt.Errorf("%w: serial is %d bytes, at most %d", ErrTooLarge, slen, MaxSerialLen)
	}
	h.hdrLen = fixedHeaderLen + slen
	if len(b) < h.hdrLen {
		return header{}, fmt.Errorf("%w: %d bytes, the header is %d", ErrTruncated, len(b), h.hdrLen)
	}
	h.serial = string(b[offSerial:h.hdrLen])
	if !validSerial(h.serial) {
		return header{}, fmt.Errorf("%w: serial %q", ErrMalformed, h.serial)
	}
	want := h.hdrLen + h.payloadLen + TagSize
	switch {
	case want > MaxMessageSize:
		return header{}, fmt.Errorf("%w: payload length %d", ErrTooLarge, h.payloadLen)
	case len(b) < want:
		return header{}, fmt.Errorf("%w: %d bytes, the header says %d", ErrTruncated, len(b), want)
	case len(b) > want:
		return header{}, fmt.Errorf("%w: %d bytes after the tag", ErrMalformed, len(b)-want)
	}
	return h, nil
}

// errAuthTag is the internal authentication failure, told apart from decoding errors so that
// Keyring.Open tries the next key only after an authentication failure.
var errAuthTag = fmt.Errorf("%w: bad tag", ErrAuth)

func isAuthErr(err error) bool { return errors.Is(err, ErrAuth) }

// openWith authenticates (and decrypts) the framed datagram b with k, then decodes the payload.
func openWith(k Key, b []byte, h header) (*Message, error) {
	body := b[h.hdrLen : h.hdrLen+h.payloadLen]
	tag := b[h.hdrLen+h.payloadLen:]
	var plain []byte
	if h.flags&flagEncrypted == 0 {
		if !seal.VerifyTag(k.hmac[:], b[:h.hdrLen+h.payloadLen], tag) {
			return nil, errAuthTag
		}
		plain = body
	} else {
		aead, err := k.senderAEAD(h.serial)
		if err != nil {
			return nil, fmt.Errorf("wire: %w", err)
		}
		plain, err = aead.Open(make([]byte, 0, h.payloadLen), nonce(h.epoch, h.seq), b[h.hdrLen:], b[:h.hdrLen])
		if err != nil {
			return nil, errAuthTag
		}
	}
	p, err := decodePayload(plain)
	if err != nil {
		return nil, err
	}
	return &Message{
		Serial:    h.serial,
		Epoch:     h.epoch,
		Seq:       h.seq,
		Timestamp: h.timestamp,
		Encrypted: h.flags&flagEncrypted != 0,
		Payload:   p,
	}, nil
}
