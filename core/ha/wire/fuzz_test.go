package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// sentinels are the errors Open may wrap; any other error is a bug.
var sentinels = []error{ErrTruncated, ErrBadMagic, ErrVersion, ErrTooLarge, ErrMalformed, ErrAuth}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzOpen: arbitrary datagrams never panic, fail only with the documented errors, and anything
// that opens re-seals to an equivalent message.
func FuzzOpen(f *testing.F) {
	k := mustKey(f, string(testPSK))
	for _, m := range []*Message{sample(), minimal(), maximal()} {
		for _, enc := range []bool{false, true} {
			b, err := Seal(k, m, enc)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			f.Add(b[:len(b)/2])
		}
	}
	f.Add([]byte{})
	f.Add([]byte("TDHB"))
	f.Add([]byte("TDHB\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		m, err := Open(k, b)
		if !bytes.Equal(b, orig) {
			t.Fatal("Open modified its input")
		}
		if err != nil {
			if m != nil {
				t.Fatal("message with error")
			}
			if !isSentinel(err) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		again, err := Seal(k, m, m.Encrypted)
		if err != nil {
			t.Fatalf("opened message does not re-seal: %v\n%+v", err, m)
		}
		m2, err := Open(k, again)
		if err != nil {
			t.Fatalf("re-sealed message does not open: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-seal changed the message:\n%+v\n%+v", m, m2)
		}
		if len(again) > len(b) {
			t.Fatalf("re-sealed message grew from %d to %d bytes", len(b), len(again))
		}
	})
}

// FuzzDecodePayload fuzzes the payload parser directly, past authentication: it never panics,
// fails only with ErrMalformed or ErrTooLarge, and what it accepts encodes to bytes that decode
// to the same payload and that Seal accepts.
func FuzzDecodePayload(f *testing.F) {
	for _, m := range []*Message{sample(), minimal(), maximal()} {
		b := appendPayload(nil, &m.Payload)
		f.Add(b)
		f.Add(append(bytes.Clone(b), 0xff, 0))
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	k := mustKey(f, string(testPSK))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePayload(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if err := checkPayload(&p, ErrInvalid); err != nil {
			t.Fatalf("decoded payload does not pass the sender's checks: %v", err)
		}
		enc := appendPayload(nil, &p)
		if len(enc) != payloadLen(&p) {
			t.Fatalf("payloadLen %d, encoded %d", payloadLen(&p), len(enc))
		}
		if len(enc) > len(b) || len(enc) > maxPayloadLen {
			t.Fatalf("re-encoded payload is %d bytes from %d", len(enc), len(b))
		}
		if !bytes.Equal(enc, b[:len(enc)]) {
			// Only reserved flag bits may differ.
			for i := range enc {
				if enc[i] != b[i] && enc[i] != b[i]&^0xf8 && enc[i] != b[i]&^0xfc {
					t.Fatalf("re-encoding differs at byte %d beyond reserved bits: %#x vs %#x", i, enc[i], b[i])
				}
			}
		}
		p2, err := decodePayload(enc)
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("re-decode: %v\n%+v\n%+v", err, p, p2)
		}
		m := &Message{Serial: "F", Payload: p}
		if _, err := Seal(k, m, false); err != nil {
			t.Fatalf("Seal refuses a payload the decoder accepts: %v", err)
		}
	})
}
