package seal

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

var testDomain = Domain{Salt: "tandem-test v1", Info: "tandem-test/v1"}

// SPEC SEC-1: the pre-shared key derives separate, reproducible keys.
func TestNewKey(t *testing.T) {
	for _, c := range []struct {
		psk  string
		want error
	}{{"", ErrShortKey}, {"1234567", ErrShortKey}, {"12345678", nil}, {strings.Repeat("k", 256), nil}} {
		k, err := NewKey([]byte(c.psk), testDomain)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) || k.IsZero() != (err != nil) {
			t.Fatalf("NewKey(%d bytes) = %v, %v; want %v", len(c.psk), k.IsZero(), err, c.want)
		}
	}
	a1, _ := NewKey([]byte("same key 12345"), testDomain)
	a2, _ := NewKey([]byte("same key 12345"), testDomain)
	b, _ := NewKey([]byte("other key 12345"), testDomain)
	other, _ := NewKey([]byte("same key 12345"), Domain{Salt: "another v1", Info: "another/v1"})
	if a1 != a2 {
		t.Fatal("the same PSK derived different keys")
	}
	if a1.mac == a1.aeadMaster {
		t.Fatal("HMAC and AEAD keys are not separated")
	}
	if a1.Fingerprint() == b.Fingerprint() || len(a1.Fingerprint()) != 16 || (Key{}).Fingerprint() != "" {
		t.Fatalf("fingerprints %q %q", a1.Fingerprint(), b.Fingerprint())
	}
	if a1.mac == other.mac || a1.Fingerprint() == other.Fingerprint() {
		t.Fatal("domains do not separate keys")
	}
}

// Derive is plain HKDF-SHA256: pinned against the standard library so that a refactoring
// cannot change derived keys (which would be an incompatible wire change).
func TestDeriveIsHKDF(t *testing.T) {
	psk := []byte("a pre-shared key")
	var got [32]byte
	if err := Derive(psk, "salt", Subkey{Info: "info", Dst: got[:]}); err != nil {
		t.Fatal(err)
	}
	prk, _ := hkdf.Extract(sha256.New, psk, []byte("salt"))
	want, _ := hkdf.Expand(sha256.New, prk, "info", 32)
	if !bytes.Equal(got[:], want) {
		t.Fatal("Derive differs from HKDF-SHA256")
	}
}

// SPEC SEC-1, SEC-2: tags and per-sender AEAD keys.
func TestTagsAndAEAD(t *testing.T) {
	k, _ := NewKey([]byte("a pre-shared key"), testDomain)
	msg := []byte("hello")
	tag := k.AppendTag(nil, msg)
	if len(tag) != TagSize || !k.VerifyTag(msg, tag) {
		t.Fatal("tag does not verify")
	}
	if k.VerifyTag([]byte("hellO"), tag) || k.VerifyTag(msg, tag[:8]) {
		t.Fatal("tag verifies a different message or a short tag")
	}
	a, err := k.SenderAEAD("A")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.SenderAEAD("B")
	n := Nonce(1, 2)
	ct := a.Seal(nil, n[:], msg, nil)
	if _, err := b.Open(nil, n[:], ct, nil); err == nil {
		t.Fatal("sender B's key opened sender A's message")
	}
	if pt, err := a.Open(nil, n[:], ct, nil); err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("round trip: %v", err)
	}
	if n != [12]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2} {
		t.Fatalf("nonce layout %x", n)
	}
}
