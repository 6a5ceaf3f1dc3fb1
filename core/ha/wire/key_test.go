package wire

import (
	"errors"
	"strings"
	"testing"
)

// SPEC: SEC-1
func TestNewKey(t *testing.T) {
	cases := []struct {
		name string
		psk  string
		want error
	}{
		{"empty", "", ErrShortKey},
		{"seven bytes", "1234567", ErrShortKey},
		{"eight bytes (YANG minimum)", "12345678", nil},
		{"long", strings.Repeat("k", 256), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := NewKey([]byte(c.psk))
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("NewKey(%q) = %v, want %v", c.psk, err, c.want)
			}
			if k.IsZero() != (err != nil) {
				t.Fatalf("IsZero = %v with err %v", k.IsZero(), err)
			}
		})
	}

	a1, a2, b := mustKey(t, "same key 12345"), mustKey(t, "same key 12345"), mustKey(t, "other key 12345")
	if a1 != a2 {
		t.Fatal("the same PSK derived different keys")
	}
	if a1.Fingerprint() == b.Fingerprint() || len(a1.Fingerprint()) != 16 {
		t.Fatalf("fingerprints %q %q", a1.Fingerprint(), b.Fingerprint())
	}
	if a1.hmac == a1.aeadMaster {
		t.Fatal("HMAC and AEAD keys are not separated")
	}
	if strings.Contains(a1.Fingerprint(), "same") || (Key{}).Fingerprint() != "" {
		t.Fatal("fingerprint")
	}
}

// SPEC: SEC-1
func TestKeyringRotation(t *testing.T) {
	oldK, newK := mustKey(t, "the old pre-shared key"), mustKey(t, "the new pre-shared key")
	msg := func(serial string) *Message { m := sample(); m.Serial = serial; return m }

	// Both members start on the old key.
	a := Keyring{Current: oldK}
	b := Keyring{Current: oldK}
	exchange := func(from, to *Keyring, serial string, wantSlot Slot) {
		t.Helper()
		for _, encrypt := range []bool{false, true} {
			w, err := from.Seal(msg(serial), encrypt)
			if err != nil {
				t.Fatal(err)
			}
			m, slot, err := to.Open(w)
			if err != nil || slot != wantSlot || m.Serial != serial {
				t.Fatalf("%s -> peer (encrypt=%v): slot %v, err %v; want slot %v", serial, encrypt, slot, err, wantSlot)
			}
		}
	}
	exchange(&a, &b, "A", SlotCurrent)

	// 1. The change is committed on A: A stages the new key, keeps sending with the old one.
	a.Stage(newK)
	exchange(&a, &b, "A", SlotCurrent)
	exchange(&b, &a, "B", SlotCurrent)

	// 2. B receives the key over config sync and rotates: sends with the new one.
	b.Rotate(newK)
	exchange(&a, &b, "A", SlotPrevious)
	exchange(&b, &a, "B", SlotNext)

	// 3. A sees SlotNext and promotes.
	a.Promote()
	exchange(&a, &b, "A", SlotCurrent)
	exchange(&b, &a, "B", SlotCurrent)

	// 4. Grace over: both retire the old key; messages under it are refused.
	w, err := Seal(oldK, msg("X"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, slot, err := a.Open(w); err != nil || slot != SlotPrevious {
		t.Fatalf("old key during grace: %v, %v", slot, err)
	}
	a.Retire()
	b.Retire()
	if _, slot, err := a.Open(w); !errors.Is(err, ErrAuth) || slot != SlotNone {
		t.Fatalf("old key after retire: %v, %v; want ErrAuth", slot, err)
	}
	exchange(&a, &b, "A", SlotCurrent)

	// Promote without a staged key does nothing.
	a.Promote()
	if a.Current != newK || !a.Previous.IsZero() {
		t.Fatal("Promote without a staged key changed the keyring")
	}

	// Framing errors are reported as such, not as authentication failures.
	if _, _, err := a.Open([]byte("nope")); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("framing: %v", err)
	}
	// An empty keyring says so.
	if _, _, err := (&Keyring{}).Open(w); !errors.Is(err, ErrNoKey) {
		t.Fatalf("empty keyring: %v", err)
	}
	if _, err := (&Keyring{}).Seal(msg("A"), false); !errors.Is(err, ErrNoKey) {
		t.Fatalf("empty keyring seal: %v", err)
	}
}
