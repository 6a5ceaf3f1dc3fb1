package publish

import (
	"bytes"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/publish/wire"
)

// FuzzDecodeValue feeds the decoder of records received from the peer:
// it never panics, and what it accepts re-encodes to the same bytes.
func FuzzDecodeValue(f *testing.F) {
	f.Add([]byte("wan0"), encodeValue(&wire.Entry{Key: "wan0", Type: "tandem.dhcp-lease.v1", Value: []byte(`{"a":1}`), Updated: 1700000000000}))
	f.Add([]byte("k"), encodeValue(&wire.Entry{Key: "k", Type: "t", JSON: []byte(`{"x":[1,2]}`)}))
	f.Add([]byte("k"), []byte{1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, key, b []byte) {
		e, err := decodeValue(key, b)
		if err != nil {
			return
		}
		if err := e.Check("e"); err != nil {
			t.Fatalf("accepted an entry that fails Check: %v", err)
		}
		if again := encodeValue(&e); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, decoded from %x", again, b)
		}
	})
}
