package frame

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

var sentinels = []error{ErrTruncated, ErrBadMagic, ErrVersion, ErrTooLarge, ErrMalformed, ErrAuth}

func checkSentinel(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("undocumented error %v", err)
}

// FuzzDecode: arbitrary datagrams never panic and fail only with the documented errors;
// anything that authenticates decodes or fails as malformed. The payload decoders are also
// fed the raw input directly, since the tag keeps random input away from them otherwise.
// Whatever decodes re-encodes to the same value.
func FuzzDecode(f *testing.F) {
	k := mustKey(f, testPSK)
	ctl, _ := AppendControl(nil, sampleControl())
	for _, enc := range []bool{false, true} {
		for _, c := range []struct {
			typ Type
			p   []byte
		}{{TypeControl, ctl}, {TypeData, sampleData(f)}} {
			w, _ := k.Seal(nil, Header{Type: c.typ, Encrypted: enc, Sender: 1, Receiver: 2, Packet: 3}, c.p)
			f.Add(w)
			f.Add(c.p)
		}
	}
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		if h, plen, err := ParseHeader(b); err != nil {
			checkSentinel(t, err)
		} else if p, err := k.Open(nil, h, plen, b); err != nil {
			checkSentinel(t, err)
		} else if h.Type == TypeControl {
			_, _ = ParseControl(p)
		} else {
			_, _ = ParseData(p)
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("decoding modified its input")
		}
		if c, err := ParseControl(b); err != nil {
			checkSentinel(t, err)
		} else {
			re, err := AppendControl(nil, &c)
			if err != nil {
				t.Fatalf("decoded control does not encode: %v", err)
			}
			if c2, err := ParseControl(re); err != nil || !reflect.DeepEqual(c, c2) {
				t.Fatalf("control round trip: %+v %+v %v", c, c2, err)
			}
		}
		if d, err := ParseData(b); err != nil {
			checkSentinel(t, err)
		} else {
			var bld DataBuilder
			bld.Reset(nil, MaxDatagram, d.Seq, d.Gen)
			for _, it := range d.Items {
				ok := true
				switch it.Kind {
				case KindMarker:
					if it.Marker == MarkerBulkBegin {
						ok = bld.AddBulkBegin(it.Channels)
					} else {
						ok = bld.AddBulkEnd()
					}
				case KindUpsert:
					ok = bld.AddRecord(it.Channel, channel.Upsert, it.Key, it.Value)
				case KindDelete:
					ok = bld.AddRecord(it.Channel, channel.Delete, it.Key, nil)
				case KindFirst:
					full := append(bytes.Clone(it.Value), make([]byte, it.Total-len(it.Value))...)
					ok = bld.AddFirst(it.Channel, it.Key, full) >= len(it.Value)
				case KindMore:
					ok = bld.AddMore(it.Channel, it.Value) == len(it.Value)
				}
				if !ok {
					t.Fatalf("decoded item %+v does not re-encode", it)
				}
			}
			d2, err := ParseData(bld.Bytes())
			if err != nil {
				t.Fatalf("re-encoded data does not decode: %v", err)
			}
			// A KindFirst chunk may come back longer (the builder fills the room), so
			// compare the item kinds, channels and keys.
			if len(d2.Items) != len(d.Items) {
				t.Fatalf("items %d -> %d", len(d.Items), len(d2.Items))
			}
			for i := range d.Items {
				a, b := d.Items[i], d2.Items[i]
				if a.Kind != b.Kind || a.Channel != b.Channel || !bytes.Equal(a.Key, b.Key) || a.Marker != b.Marker {
					t.Fatalf("item %d: %+v -> %+v", i, a, b)
				}
			}
		}
	})
}
