package seal

import (
	"crypto/cipher"
	"encoding/hex"
)

// Domain names the HKDF salt and info prefix of one protocol. The same pre-shared key under
// different domains yields unrelated keys. Changing a domain is an incompatible wire change.
type Domain struct {
	// Salt is the HKDF-Extract salt, e.g. "tandem-ha heartbeat v1".
	Salt string
	// Info prefixes the HKDF info strings: Info+"/hmac", Info+"/aead",
	// Info+"/fingerprint" and Info+"/aead/sender/"+sender.
	Info string
}

// Key is the set of keys one protocol derives from the pre-shared key: an HMAC-SHA256 key
// for plain messages, an AEAD master from which each sender's AES-256-GCM key is derived,
// and a public fingerprint. The zero Key is "no key" (IsZero). Keys are comparable values,
// safe to copy and to use from several goroutines.
type Key struct {
	valid       bool
	senderInfo  string // Domain.Info + "/aead/sender/"
	mac         [32]byte
	aeadMaster  [32]byte
	fingerprint [8]byte
}

// NewKey derives a Key from psk under d. It refuses keys shorter than MinPSKLen with
// ErrShortKey.
func NewKey(psk []byte, d Domain) (Key, error) {
	var k Key
	err := Derive(psk, d.Salt,
		Subkey{Info: d.Info + "/hmac", Dst: k.mac[:]},
		Subkey{Info: d.Info + "/aead", Dst: k.aeadMaster[:]},
		Subkey{Info: d.Info + "/fingerprint", Dst: k.fingerprint[:]},
	)
	if err != nil {
		return Key{}, err
	}
	k.valid = true
	k.senderInfo = d.Info + "/aead/sender/"
	return k, nil
}

// IsZero reports whether k is the zero Key.
func (k Key) IsZero() bool { return !k.valid }

// Fingerprint is a short public identifier of the key (16 hex digits), derived one-way, so
// that status can show whether two members hold the same key. "" for the zero Key.
func (k Key) Fingerprint() string {
	if !k.valid {
		return ""
	}
	return hex.EncodeToString(k.fingerprint[:])
}

// AppendTag appends the truncated HMAC-SHA256 of msg under k's HMAC key to dst.
func (k Key) AppendTag(dst, msg []byte) []byte { return AppendTag(dst, k.mac[:], msg) }

// VerifyTag reports in constant time whether tag authenticates msg under k's HMAC key.
func (k Key) VerifyTag(msg, tag []byte) bool { return VerifyTag(k.mac[:], msg, tag) }

// SenderAEAD returns the AES-256-GCM instance for messages sent by sender (a serial number,
// a session id): each sender has its own key, so two senders never share a (key, nonce)
// pair even when their sequence numbers coincide.
func (k Key) SenderAEAD(sender string) (cipher.AEAD, error) {
	return SubkeyAEAD(k.aeadMaster[:], k.senderInfo+sender)
}
