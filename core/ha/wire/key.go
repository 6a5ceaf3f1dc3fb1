package wire

import (
	"crypto/cipher"
	"encoding/hex"
	"fmt"

	"github.com/tandem-ha/tandem/plugins/sdk/seal"
)

// MinPSKLen is the shortest pre-shared key NewKey accepts. It matches the length "8..256" of
// tandem-ha:ha/config/pre-shared-key, so a key the datastore accepts always works here.
const MinPSKLen = seal.MinPSKLen

// HKDF parameters. Changing any of them changes every derived key: that is a new wire version.
const (
	hkdfSalt        = "tandem-ha heartbeat v1"
	infoHMAC        = "tandem-ha/heartbeat/v1/hmac"
	infoAEAD        = "tandem-ha/heartbeat/v1/aead"
	infoAEADSender  = "tandem-ha/heartbeat/v1/aead/sender/"
	infoFingerprint = "tandem-ha/heartbeat/v1/fingerprint"
)

// Key holds the heartbeat keys derived from the cluster pre-shared key (SEC-1): an HMAC-SHA256
// key for plain messages and an AEAD master key from which each sender's AES-256-GCM key is
// derived. The zero Key is not usable (ErrNoKey). Keys are immutable values, safe to copy and to
// use from several goroutines.
type Key struct {
	valid       bool
	hmac        [32]byte
	aeadMaster  [32]byte
	fingerprint [8]byte
}

// NewKey derives a Key from the pre-shared key with HKDF-SHA256 (distinct info strings for the
// HMAC key, the AEAD key and the fingerprint). It refuses keys shorter than MinPSKLen with
// ErrShortKey.
func NewKey(psk []byte) (Key, error) {
	if len(psk) < MinPSKLen {
		return Key{}, fmt.Errorf("%w: %d bytes, at least %d", ErrShortKey, len(psk), MinPSKLen)
	}
	var k Key
	err := seal.Derive(psk, hkdfSalt,
		seal.Subkey{Info: infoHMAC, Dst: k.hmac[:]},
		seal.Subkey{Info: infoAEAD, Dst: k.aeadMaster[:]},
		seal.Subkey{Info: infoFingerprint, Dst: k.fingerprint[:]},
	)
	if err != nil {
		return Key{}, fmt.Errorf("wire: deriving key: %w", err)
	}
	k.valid = true
	return k, nil
}

// IsZero reports whether k is the zero Key (no key).
func (k Key) IsZero() bool { return !k.valid }

// Fingerprint returns a short public identifier of the key (16 hex digits), derived one-way
// from the pre-shared key, so that status can show whether both members hold the same key
// without revealing it. The zero Key has the fingerprint "".
func (k Key) Fingerprint() string {
	if !k.valid {
		return ""
	}
	return hex.EncodeToString(k.fingerprint[:])
}

// senderAEAD returns the AES-256-GCM instance for messages sent by serial. Each sender has its
// own key, so the two members of a pair never share a (key, nonce) pair even when their epochs
// and sequence numbers coincide.
func (k Key) senderAEAD(serial string) (cipher.AEAD, error) {
	return seal.SubkeyAEAD(k.aeadMaster[:], infoAEADSender+serial)
}

// Slot names the key of a Keyring that authenticated a message.
type Slot uint8

// Keyring slots.
const (
	// SlotNone: no key matched.
	SlotNone Slot = iota
	// SlotCurrent: the key used for sending.
	SlotCurrent
	// SlotNext: a staged key the peer already sends with; promote it.
	SlotNext
	// SlotPrevious: the key before the last rotation, accepted during the grace period.
	SlotPrevious
)

// String names the slot.
func (s Slot) String() string {
	switch s {
	case SlotNone:
		return "none"
	case SlotCurrent:
		return "current"
	case SlotNext:
		return "next"
	case SlotPrevious:
		return "previous"
	}
	return fmt.Sprintf("slot(%d)", uint8(s))
}

// Keyring supports changing the pre-shared key in place (SEC-1) without a moment in which the
// members cannot authenticate each other. Seal uses Current; Open accepts Current, Next and
// Previous and says which matched. A rotation, driven by the HA engine:
//
//  1. The unit where the change is committed stages the new key (Stage): it still sends with
//     the old key and now also accepts the new one. It pushes the key to the peer over the
//     authenticated config-sync stream.
//  2. The peer rotates (Rotate): it sends with the new key, still accepts the old one.
//  3. The first unit opens a message with SlotNext and promotes (Promote).
//  4. Each unit retires the previous key (Retire) after a grace period of its choosing, or when
//     it has seen only SlotCurrent for a while. The wire package keeps no clock.
//
// A Keyring is a value; its methods are not safe for concurrent mutation.
type Keyring struct {
	// Current is used by Seal and tried first by Open.
	Current Key
	// Next is a staged key: accepted by Open, not used for sending.
	Next Key
	// Previous is the key before the last rotation: accepted by Open, not used for sending.
	Previous Key
}

// Stage sets k as the next key, accepted but not yet used for sending.
func (r *Keyring) Stage(k Key) { r.Next = k }

// Promote makes the staged key current and the current one previous. It does nothing when no
// key is staged.
func (r *Keyring) Promote() {
	if r.Next.IsZero() {
		return
	}
	r.Previous, r.Current, r.Next = r.Current, r.Next, Key{}
}

// Rotate makes k current at once and keeps the current key as previous.
func (r *Keyring) Rotate(k Key) {
	r.Previous, r.Current, r.Next = r.Current, k, Key{}
}

// Retire forgets the previous key: messages authenticated with it are refused from now on.
func (r *Keyring) Retire() { r.Previous = Key{} }

// Seal seals m with the current key (see Seal).
func (r *Keyring) Seal(m *Message, encrypt bool) ([]byte, error) {
	return Seal(r.Current, m, encrypt)
}

// Open opens b trying the current, the next and the previous key in that order, and reports
// which one authenticated it. Errors are those of Open; ErrAuth when no key matched.
func (r *Keyring) Open(b []byte) (*Message, Slot, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, SlotNone, err
	}
	tried := false
	for _, c := range []struct {
		k    Key
		slot Slot
	}{{r.Current, SlotCurrent}, {r.Next, SlotNext}, {r.Previous, SlotPrevious}} {
		if c.k.IsZero() {
			continue
		}
		tried = true
		m, err := openWith(c.k, b, h)
		if err == nil {
			return m, c.slot, nil
		}
		if !isAuthErr(err) {
			// Authenticated but undecodable: another key would not change that.
			return nil, c.slot, err
		}
	}
	if !tried {
		return nil, SlotNone, ErrNoKey
	}
	return nil, SlotNone, fmt.Errorf("%w: no key of the keyring matched", ErrAuth)
}
