// Package seal holds the cryptographic primitives tandem's member-to-member
// protocols share (SPEC SEC-1, SEC-2): key derivation from the cluster
// pre-shared key with HKDF-SHA256, truncated HMAC-SHA256 tags, per-sender
// AES-256-GCM keys and nonces. Protocols (the heartbeat in core/ha/wire, the
// state sync stream in plugins/statesync/stream) keep their own framing and
// their own HKDF salt and info strings, so the same pre-shared key yields
// independent keys for each of them.
//
// The package is pure: no clock, no sockets, no state.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// MinPSKLen is the shortest pre-shared key Derive and NewKey accept. It matches the length
// "8..256" of tandem-ha:ha/config/pre-shared-key.
const MinPSKLen = 8

// TagSize is the length of the tags AppendTag writes: HMAC-SHA256 truncated to 128 bits, the
// same length as an AES-GCM tag.
const TagSize = 16

// NonceSize is the AES-GCM nonce length.
const NonceSize = 12

// ErrShortKey means the pre-shared key is shorter than MinPSKLen.
var ErrShortKey = errors.New("seal: pre-shared key too short")

// Subkey is one key Derive writes: HKDF-Expand with Info into all of Dst.
type Subkey struct {
	// Info is the HKDF info string that separates this key from the others.
	Info string
	// Dst receives the key; its length is the key's length.
	Dst []byte
}

// Derive runs HKDF-Extract over psk with salt, then HKDF-Expand once per subkey. It refuses
// keys shorter than MinPSKLen with ErrShortKey.
func Derive(psk []byte, salt string, subkeys ...Subkey) error {
	if len(psk) < MinPSKLen {
		return fmt.Errorf("%w: %d bytes, at least %d", ErrShortKey, len(psk), MinPSKLen)
	}
	prk, err := hkdf.Extract(sha256.New, psk, []byte(salt))
	if err != nil {
		return fmt.Errorf("seal: deriving key: %w", err)
	}
	for _, s := range subkeys {
		b, err := hkdf.Expand(sha256.New, prk, s.Info, len(s.Dst))
		if err != nil {
			return fmt.Errorf("seal: deriving key %q: %w", s.Info, err)
		}
		copy(s.Dst, b)
	}
	return nil
}

// AppendTag appends HMAC-SHA256(macKey, msg) truncated to TagSize bytes to dst.
func AppendTag(dst, macKey, msg []byte) []byte {
	mac := hmac.New(sha256.New, macKey)
	mac.Write(msg)
	var sum [sha256.Size]byte
	return append(dst, mac.Sum(sum[:0])[:TagSize]...)
}

// VerifyTag reports, in constant time, whether tag is the truncated HMAC-SHA256 of msg.
func VerifyTag(macKey, msg, tag []byte) bool {
	var want [TagSize]byte
	return hmac.Equal(AppendTag(want[:0], macKey, msg), tag)
}

// SubkeyAEAD derives an AES-256 key from master with HKDF-Expand and info, and returns its
// AES-GCM instance (standard 12-byte nonce, 16-byte tag).
func SubkeyAEAD(master []byte, info string) (cipher.AEAD, error) {
	sk, err := hkdf.Expand(sha256.New, master, info, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: deriving AEAD key: %w", err)
	}
	block, err := aes.NewCipher(sk)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}

// Nonce returns the AES-GCM nonce hi ‖ lo (4 + 8 bytes, big-endian). Protocols put a value
// that never repeats under one key in it: an epoch and a sequence number, or a sequence
// number alone.
func Nonce(hi uint32, lo uint64) [NonceSize]byte {
	var n [NonceSize]byte
	binary.BigEndian.PutUint32(n[0:4], hi)
	binary.BigEndian.PutUint64(n[4:12], lo)
	return n
}
