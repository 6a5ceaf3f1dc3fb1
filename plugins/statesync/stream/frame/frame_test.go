package frame

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

var testPSK = []byte("a cluster pre-shared key")

func mustKey(t testing.TB, psk []byte) *Key {
	t.Helper()
	k, err := NewKey(psk)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sampleControl() *Control {
	return &Control{Role: RoleStandby, BulkComplete: true, BulkRequest: true, Gen: 7, Ack: 20, Applied: 18, Highest: 40,
		Missing: []Range{{21, 22}, {30, 30}, {35, 39}}}
}

func sampleData(t testing.TB) []byte {
	var b DataBuilder
	b.Reset(nil, 1400, 42, 40)
	if !b.AddBulkBegin([]ChannelName{{0, "conntrack"}, {3, "xfrm"}}) ||
		!b.AddRecord(0, channel.Upsert, []byte("key-1"), []byte("value-1")) ||
		!b.AddRecord(3, channel.Delete, []byte("key-2"), nil) ||
		!b.AddRecord(31, channel.Upsert, []byte("k"), nil) ||
		!b.AddBulkEnd() {
		t.Fatal("sample does not fit")
	}
	if n := b.AddFirst(2, []byte("big"), bytes.Repeat([]byte("v"), 5000)); n <= 0 {
		t.Fatal("first chunk")
	}
	return bytes.Clone(b.Bytes())
}

func open(k *Key, b []byte) (Header, []byte, error) {
	h, plen, err := ParseHeader(b)
	if err != nil {
		return Header{}, nil, err
	}
	p, err := k.Open(nil, h, plen, b)
	return h, p, err
}

// SPEC SEC-1, SEC-2: both sealing modes round-trip header and payload.
func TestSealOpenRoundTrip(t *testing.T) {
	k := mustKey(t, testPSK)
	ctl, err := AppendControl(nil, sampleControl())
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []bool{false, true} {
		for _, c := range []struct {
			typ     Type
			payload []byte
		}{{TypeControl, ctl}, {TypeData, sampleData(t)}} {
			h := Header{Type: c.typ, Encrypted: enc, Sender: 0xabc, Receiver: 0xdef, Packet: 9}
			w, err := k.Seal(nil, h, c.payload)
			if err != nil {
				t.Fatal(err)
			}
			if len(w) != Overhead+len(c.payload) {
				t.Fatalf("size %d, want %d", len(w), Overhead+len(c.payload))
			}
			gh, p, err := open(k, w)
			if err != nil || gh != h || !bytes.Equal(p, c.payload) {
				t.Fatalf("encrypt=%v %v: %+v %v", enc, c.typ, gh, err)
			}
			if enc == bytes.Contains(w, []byte("value-1")) && c.typ == TypeData {
				t.Fatalf("encrypt=%v: plaintext visible = %v", enc, !enc)
			}
		}
	}
	c, err := ParseControl(ctl)
	if err != nil || !reflect.DeepEqual(&c, sampleControl()) {
		t.Fatalf("control %+v %v", c, err)
	}
	d, err := ParseData(sampleData(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Seq != 42 || d.Gen != 40 || len(d.Items) != 6 {
		t.Fatalf("data %+v", d)
	}
	want := []Item{
		{Kind: KindMarker, Marker: MarkerBulkBegin, Channels: []ChannelName{{0, "conntrack"}, {3, "xfrm"}}},
		{Kind: KindUpsert, Channel: 0, Key: []byte("key-1"), Value: []byte("value-1")},
		{Kind: KindDelete, Channel: 3, Key: []byte("key-2")},
		{Kind: KindUpsert, Channel: 31, Key: []byte("k"), Value: []byte{}},
		{Kind: KindMarker, Marker: MarkerBulkEnd},
	}
	if !reflect.DeepEqual(d.Items[:5], want) {
		t.Fatalf("items %+v", d.Items[:5])
	}
	if f := d.Items[5]; f.Kind != KindFirst || f.Channel != 2 || f.Total != 5000 || len(f.Value) == 0 {
		t.Fatalf("first chunk %+v", f)
	}
}

// SPEC SEC-1: changing any byte of a datagram makes it fail (framing or tag), in both modes.
func TestOpenTamperEveryByte(t *testing.T) {
	k := mustKey(t, testPSK)
	for _, enc := range []bool{false, true} {
		w, err := k.Seal(nil, Header{Type: TypeData, Encrypted: enc, Sender: 1, Receiver: 2, Packet: 3}, sampleData(t)[:100])
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			b := bytes.Clone(w)
			b[i] ^= 0x01
			if _, _, err := open(k, b); err == nil {
				t.Fatalf("encrypt=%v: flipping byte %d went unnoticed", enc, i)
			}
		}
	}
}

// SPEC SEC-1: another pre-shared key, or an encrypted datagram from another sender session
// under the same key, does not open.
func TestOpenWrongKeyOrSender(t *testing.T) {
	k, other := mustKey(t, testPSK), mustKey(t, []byte("another pre-shared key"))
	if k.Fingerprint() == other.Fingerprint() {
		t.Fatal("fingerprints equal")
	}
	for _, enc := range []bool{false, true} {
		w, _ := k.Seal(nil, Header{Type: TypeControl, Encrypted: enc, Sender: 1, Packet: 1}, []byte("payload"))
		if _, _, err := open(other, w); !errors.Is(err, ErrAuth) {
			t.Fatalf("encrypt=%v: wrong key: %v", enc, err)
		}
	}
	w, _ := k.Seal(nil, Header{Type: TypeControl, Encrypted: true, Sender: 1, Packet: 1}, []byte("payload"))
	w[offSender+7] = 2 // claim another sender session: its key differs
	if _, _, err := open(k, w); !errors.Is(err, ErrAuth) {
		t.Fatalf("sender binding: %v", err)
	}
	if _, err := NewKey([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestParseHeaderFraming(t *testing.T) {
	k := mustKey(t, testPSK)
	good, _ := k.Seal(nil, Header{Type: TypeControl, Sender: 1, Packet: 1}, []byte("xy"))
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), ErrBadMagic},
		{"short header", good[:20], ErrTruncated},
		{"version", mod(func(b []byte) []byte { b[offVersion] = 2; return b }), ErrVersion},
		{"flags", mod(func(b []byte) []byte { b[offFlags] = 0x80; return b }), ErrVersion},
		{"type", mod(func(b []byte) []byte { b[offType] = 9; return b }), ErrVersion},
		{"reserved", mod(func(b []byte) []byte { b[offReserved] = 1; return b }), ErrMalformed},
		{"zero sender", mod(func(b []byte) []byte { clear(b[offSender : offSender+8]); return b }), ErrMalformed},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"trailing", append(bytes.Clone(good), 0), ErrMalformed},
		{"huge", append([]byte(Magic), make([]byte, MaxDatagram)...), ErrTooLarge},
	} {
		if _, _, err := ParseHeader(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := k.Seal(nil, Header{Type: 5, Sender: 1, Packet: 1}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("seal type 5: %v", err)
	}
	if _, err := k.Seal(nil, Header{Type: TypeData, Sender: 1}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("seal packet 0: %v", err)
	}
}

func TestParsePayloadErrors(t *testing.T) {
	ctl, _ := AppendControl(nil, sampleControl())
	for _, c := range []struct {
		name string
		p    []byte
	}{
		{"short", ctl[:10]},
		{"role", append([]byte{9}, ctl[1:]...)},
		{"range count", append(append(bytes.Clone(ctl[:34]), 33), ctl[35:]...)},
		{"ranges truncated", ctl[:len(ctl)-1]},
	} {
		if _, err := ParseControl(c.p); !errors.Is(err, ErrMalformed) {
			t.Errorf("control %s: %v", c.name, err)
		}
	}
	if _, err := AppendControl(nil, &Control{Ack: 5, Missing: []Range{{9, 3}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("reversed range: %v", err)
	}
	bad := ctl[:len(ctl)-12]
	bad[34]-- // drop the last range, then make the first overlap Ack
	bad[35+7] = 20
	if _, err := ParseControl(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("range at ack: %v", err)
	}
	hdr := func(seq, gen byte) []byte {
		return []byte{0, 0, 0, 0, 0, 0, 0, seq, 0, 0, 0, 0, 0, 0, 0, gen}
	}
	for _, c := range []struct {
		name string
		p    []byte
	}{
		{"short", hdr(1, 1)[:10]},
		{"gen 0", hdr(1, 0)},
		{"gen above seq", hdr(1, 2)},
		{"kind", append(hdr(1, 1), 7)},
		{"marker", append(hdr(1, 1), 3<<3)},
		{"key length", append(hdr(1, 1), 1, 9, 'a')},
		{"varint", append(hdr(1, 1), 1, 0xff)},
		{"key too long", append(hdr(1, 1), 2, 0x81, 0x10)},
		{"channel table", append(hdr(1, 1), MarkerBulkBegin<<3, 1, 40, 1, 'a')},
		{"channel name", append(hdr(1, 1), MarkerBulkBegin<<3, 1, 0, 1, 'A')},
		{"duplicate id", append(hdr(1, 1), MarkerBulkBegin<<3, 2, 0, 1, 'a', 0, 1, 'b')},
		{"first chunk whole", append(hdr(1, 1), byte(KindFirst), 1, 'k', 1, 1, 'v')},
		{"empty chunk", append(hdr(1, 1), byte(KindMore), 0)},
	} {
		if _, err := ParseData(c.p); !errors.Is(err, ErrMalformed) {
			t.Errorf("data %s: %v", c.name, err)
		}
	}
}

func TestBuilderFragments(t *testing.T) {
	value := []byte(strings.Repeat("0123456789", 1000))
	var b DataBuilder
	var got []byte
	b.Reset(nil, 1400, 1, 1)
	n := b.AddFirst(1, []byte("key"), value)
	got = append(got, value[:n]...)
	for off := n; off < len(value); {
		d, err := ParseData(b.Bytes())
		if err != nil || len(b.Bytes()) > 1400 {
			t.Fatalf("payload %d bytes: %v", len(b.Bytes()), err)
		}
		_ = d
		b.Reset(b.Bytes(), 1400, 2, 1)
		m := b.AddMore(1, value[off:])
		if m <= 0 {
			t.Fatal("no progress")
		}
		d, err = ParseData(b.Bytes())
		if err != nil || d.Items[0].Kind != KindMore {
			t.Fatal(err)
		}
		got = append(got, d.Items[0].Value...)
		off += m
	}
	if !bytes.Equal(got, value) {
		t.Fatal("reassembled value differs")
	}
	b.Reset(nil, 20, 1, 1)
	if b.AddRecord(0, channel.Upsert, []byte("key"), []byte("too long a value")) {
		t.Fatal("record above the limit accepted")
	}
	b.Reset(nil, 22, 1, 1)
	if b.AddFirst(0, []byte("k"), []byte("vv")) != 1 {
		t.Fatal("AddFirst must leave at least one byte for a continuation")
	}
}

func TestWindow(t *testing.T) {
	var w Window
	for _, n := range []uint64{1, 3, 2, 300, 299, 45, 556} {
		if err := w.Accept(n); err != nil {
			t.Fatalf("%d: %v", n, err)
		}
	}
	for _, n := range []uint64{1, 300, 299, 45, 556, 556 - WindowSize} {
		if err := w.Accept(n); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay of %d: %v", n, err)
		}
	}
	if err := w.Accept(556 - WindowSize + 1); err != nil {
		t.Fatalf("bottom of window: %v", err)
	}
	// Shifts by every amount keep exactly the bits they should.
	for shift := uint64(1); shift < WindowSize+2; shift++ {
		var w Window
		_ = w.Accept(1000)
		_ = w.Accept(999)
		_ = w.Accept(1000 + shift)
		for _, n := range []uint64{1000, 999} {
			if err := w.Accept(n); !errors.Is(err, ErrReplay) {
				t.Fatalf("shift %d: replay of %d: %v", shift, n, err)
			}
		}
		if err := w.Accept(998); (1000+shift-998 < WindowSize) != (err == nil) {
			t.Fatalf("shift %d: 998: %v", shift, err)
		}
	}
}
