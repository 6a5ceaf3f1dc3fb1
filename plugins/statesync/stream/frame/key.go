package frame

import (
	"crypto/cipher"
	"fmt"
	"strconv"

	"github.com/tandem-ha/tandem/plugins/sdk/seal"
)

// Domain is the HKDF salt and info prefix of the state sync stream. Changing it is an
// incompatible wire change.
var Domain = seal.Domain{Salt: "tandem-ha statesync v1", Info: "tandem-ha/statesync/v1"}

// maxCachedAEADs bounds the per-sender AES-GCM instances a Key keeps (one per peer session
// seen; a pair has two live sessions).
const maxCachedAEADs = 8

// Key seals and opens datagrams with the keys derived from one pre-shared key. It caches the
// per-sender AES-GCM instances; it is not safe for concurrent use.
type Key struct {
	key   seal.Key
	aeads map[uint64]cipher.AEAD
}

// NewKey derives the stream's keys from the cluster pre-shared key (SEC-1). It refuses keys
// shorter than seal.MinPSKLen.
func NewKey(psk []byte) (*Key, error) {
	k, err := seal.NewKey(psk, Domain)
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	return &Key{key: k, aeads: map[uint64]cipher.AEAD{}}, nil
}

// Fingerprint is the key's public identifier (16 hex digits).
func (k *Key) Fingerprint() string { return k.key.Fingerprint() }

// aead returns the AES-256-GCM instance of the sender session.
func (k *Key) aead(sender uint64) (cipher.AEAD, error) {
	if a, ok := k.aeads[sender]; ok {
		return a, nil
	}
	a, err := k.key.SenderAEAD(strconv.FormatUint(sender, 16))
	if err != nil {
		return nil, err
	}
	if len(k.aeads) >= maxCachedAEADs {
		clear(k.aeads)
	}
	k.aeads[sender] = a
	return a, nil
}

// Seal appends the datagram with header h and payload to dst: HMAC-SHA256 over header and
// payload, or, when h.Encrypted, AES-256-GCM with the header as additional data and the
// packet number as nonce (SEC-2).
func (k *Key) Seal(dst []byte, h Header, payload []byte) ([]byte, error) {
	if h.Type != TypeControl && h.Type != TypeData {
		return nil, fmt.Errorf("%w: type %v", ErrInvalid, h.Type)
	}
	if h.Sender == 0 || h.Packet == 0 {
		return nil, fmt.Errorf("%w: sender session and packet number must not be 0", ErrInvalid)
	}
	if HeaderSize+len(payload)+TagSize > MaxDatagram || len(payload) > 0xffff {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrTooLarge, len(payload))
	}
	start := len(dst)
	dst = appendHeader(dst, h, len(payload))
	if !h.Encrypted {
		dst = append(dst, payload...)
		return k.key.AppendTag(dst, dst[start:]), nil
	}
	a, err := k.aead(h.Sender)
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	n := seal.Nonce(0, h.Packet)
	hdr := dst[start:]
	return a.Seal(dst, n[:], payload, hdr), nil
}

// Open authenticates the datagram b, whose framing ParseHeader checked (h, plen), and
// returns its plaintext payload. A plain payload aliases b; a decrypted one is appended to
// buf (which may be nil). Nothing of the payload is looked at before the tag verified.
func (k *Key) Open(buf []byte, h Header, plen int, b []byte) ([]byte, error) {
	body := b[HeaderSize : HeaderSize+plen]
	if !h.Encrypted {
		if !k.key.VerifyTag(b[:HeaderSize+plen], b[HeaderSize+plen:]) {
			return nil, fmt.Errorf("%w: bad tag", ErrAuth)
		}
		return body, nil
	}
	a, err := k.aead(h.Sender)
	if err != nil {
		return nil, fmt.Errorf("frame: %w", err)
	}
	n := seal.Nonce(0, h.Packet)
	plain, err := a.Open(buf[:0], n[:], b[HeaderSize:], b[:HeaderSize])
	if err != nil {
		return nil, fmt.Errorf("%w: bad tag", ErrAuth)
	}
	return plain, nil
}
