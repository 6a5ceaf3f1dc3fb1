package pppoe

import (
	"bytes"
	"testing"
)

// FuzzParse feeds the discovery packet parser with what the wire may
// carry: it never panics, and what it accepts re-encodes to a packet that
// parses the same.
func FuzzParse(f *testing.F) {
	p := Packet{Code: CodePADO, SessionID: 0, Tags: []Tag{{TagACName, []byte("ac")}, {TagHostUniq, []byte{1, 2}}, {TagServiceName, nil}}}
	b, _ := p.Marshal()
	f.Add(b)
	f.Add([]byte{0x11, CodePADT, 0x2a, 0x01, 0, 0})
	f.Add([]byte{0x11, CodePADS, 0, 1, 0, 8, 1, 1, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(in)
		if err != nil {
			return
		}
		out, err := p.Marshal()
		if err != nil {
			return // more tags than a frame holds
		}
		q, err := Parse(out)
		if err != nil || q.Code != p.Code || q.SessionID != p.SessionID || len(q.Tags) != len(p.Tags) {
			t.Fatalf("round trip: %+v -> %+v, %v", p, q, err)
		}
		for i := range p.Tags {
			if q.Tags[i].Type != p.Tags[i].Type || !bytes.Equal(q.Tags[i].Value, p.Tags[i].Value) {
				t.Fatalf("tag %d: %+v -> %+v", i, p.Tags[i], q.Tags[i])
			}
		}
	})
}
