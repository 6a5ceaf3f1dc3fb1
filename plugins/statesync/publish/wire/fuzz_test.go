package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzReadFrame feeds the frame reader and request decoder with what a
// service may send: they never panic, never read a frame beyond the
// limit, and an accepted request passes Check and survives a round trip.
func FuzzReadFrame(f *testing.F) {
	frame := func(s string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(s)))
		return append(b, s...)
	}
	f.Add(frame(`{"id":1,"op":"upsert","channel":"dns-cache","entries":[{"key":"a./1/1","type":"t","value":"AAEC"}]}`))
	f.Add(frame(`{"id":2,"op":"delete","channel":"pppoe","keys":["wan0"]}`))
	f.Add(frame(`{"id":3,"op":"watch","channel":"dhcp-client"}`))
	f.Add(frame(`{"id":4,"op":"replace","channel":"x","entries":[{"key":"k","type":"t","json":{"a":1}}]}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(frame(`{"id":5,"op":"upsert","channel":"x","entries":[{"key":"k","type":"t"},{"key":"k","type":"t"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			body, err := ReadFrame(r, 1<<16)
			if err != nil {
				return
			}
			if len(body) > 1<<16 {
				t.Fatalf("frame of %d bytes over the limit", len(body))
			}
			req, err := DecodeRequest(body)
			if err != nil {
				continue
			}
			if err := req.Check(); err != nil {
				t.Fatalf("accepted request fails Check: %v", err)
			}
			var buf bytes.Buffer
			if err := WriteFrame(&buf, req); err != nil {
				t.Fatal(err)
			}
			back, err := ReadFrame(&buf, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeRequest(back); err != nil {
				t.Fatalf("round trip of an accepted request fails: %v", err)
			}
		}
	})
}

// FuzzDecodeReply: the client's decoder of server frames never panics and
// accepts only entries that pass Check.
func FuzzDecodeReply(f *testing.F) {
	f.Add([]byte(`{"id":1,"event":"snapshot","role":"standby","entries":[{"key":"k","type":"t","value":"AA=="}],"more":true}`))
	f.Add([]byte(`{"id":0,"error":"x","field":"connection"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := DecodeReply(body)
		if err != nil {
			return
		}
		for i := range rep.Entries {
			if err := rep.Entries[i].Check("e"); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestChecksNameFields(t *testing.T) {
	for _, tc := range []struct {
		req   Request
		field string
	}{
		{Request{Op: "upsert", Channel: "c"}, "entries"},
		{Request{Op: "upsert", Channel: "c", Entries: []Entry{{Key: "k", Type: "t"}}, Keys: []string{"x"}}, "keys"},
		{Request{Op: "get", Channel: "c", Keys: []string{"x"}}, "entries"},
		{Request{Op: "", Channel: "c"}, "op"},
		{Request{Op: "get", Channel: ""}, "channel"},
		{Request{Op: "upsert", Channel: "c", Entries: []Entry{{Key: string([]byte{0xff}), Type: "t"}}}, "entries[0].key"},
		{Request{Op: "upsert", Channel: "c", Entries: []Entry{{Key: "k", Type: "t", JSON: []byte("x")}}}, "entries[0].json"},
	} {
		err := tc.req.Check()
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("%+v: %v, want a FieldError on %q", tc.req, err, tc.field)
		}
	}
}

func TestChunksFitFrames(t *testing.T) {
	big := make([]byte, MaxValueLen)
	var es []Entry
	for i := range 300 {
		es = append(es, Entry{Key: string(rune('a'+i%26)) + string(rune(i)), Type: "t", Value: big})
	}
	total := 0
	for _, c := range Chunks(es) {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, Reply{Entries: c}); err != nil {
			t.Fatalf("chunk of %d entries: %v", len(c), err)
		}
		total += len(c)
	}
	if total != len(es) {
		t.Fatalf("chunks hold %d entries, want %d", total, len(es))
	}
	if got := Chunks(nil); len(got) != 1 || len(got[0]) != 0 {
		t.Fatalf("Chunks(nil) = %v, want one empty chunk", got)
	}
}
