package framing

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestEndOfMessageRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	msgs := []string{"<hello/>", "<rpc message-id=\"1\"><get/></rpc>", "\n  <x>]]></x>\n"}
	for _, m := range msgs {
		if err := w.WriteMessage([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf, 0)
	for _, m := range msgs {
		got, err := r.ReadMessage()
		if err != nil || string(got) != m {
			t.Fatalf("ReadMessage = %q, %v; want %q", got, err, m)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

func TestEndOfMessageRefusesDelimiterInBody(t *testing.T) {
	if err := NewWriter(io.Discard).WriteMessage([]byte("a]]>]]>b")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestChunkedRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.SetChunked()
	big := strings.Repeat("<a>x</a>", 10000)
	for _, m := range []string{"<rpc/>", big, "]]>]]>"} {
		if err := w.WriteMessage([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf, 0)
	r.SetChunked()
	for _, m := range []string{"<rpc/>", big, "]]>]]>"} {
		got, err := r.ReadMessage()
		if err != nil || string(got) != m {
			t.Fatalf("ReadMessage = %.40q, %v; want %.40q", got, err, m)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

// RFC 6242 section 4.2's example: one message in two chunks.
func TestChunkedRFCExample(t *testing.T) {
	in := "\n#4\n<rpc\n#18\n message-id=\"102\"\n\n#79\n     xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">\n  <close-session/>\n</rpc>\n##\n"
	r := NewReader(strings.NewReader(in), 0)
	r.SetChunked()
	got, err := r.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	want := "<rpc message-id=\"102\"\n     xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">\n  <close-session/>\n</rpc>"
	if string(got) != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestChunkedMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"no newline":         "#4\n<rpc\n##\n",
		"leading zero":       "\n#04\n<rpc\n##\n",
		"zero size":          "\n#0\n\n##\n",
		"too large":          "\n#4294967296\nx\n##\n",
		"eleven digits":      "\n#12345678901\n",
		"letters":            "\n#4a\n<rpc\n##\n",
		"end without chunks": "\n##\n",
		"end marker garbage": "\n#1\na\n##x",
	} {
		r := NewReader(strings.NewReader(in), 0)
		r.SetChunked()
		if _, err := r.ReadMessage(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestTruncatedStreams(t *testing.T) {
	r := NewReader(strings.NewReader("<rpc/>]]>"), 0)
	if _, err := r.ReadMessage(); err != io.ErrUnexpectedEOF {
		t.Errorf("end-of-message: err = %v, want io.ErrUnexpectedEOF", err)
	}
	r = NewReader(strings.NewReader("\n#10\n<rpc/>"), 0)
	r.SetChunked()
	if _, err := r.ReadMessage(); err != io.ErrUnexpectedEOF {
		t.Errorf("chunked: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestMessageLimit(t *testing.T) {
	r := NewReader(strings.NewReader(strings.Repeat("x", 100)+EndOfMessage), 50)
	if _, err := r.ReadMessage(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("end-of-message: err = %v, want ErrTooLarge", err)
	}
	r = NewReader(strings.NewReader("\n#30\n"+strings.Repeat("x", 30)+"\n#30\n"+strings.Repeat("x", 30)+"\n##\n"), 50)
	r.SetChunked()
	if _, err := r.ReadMessage(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("chunked: err = %v, want ErrTooLarge", err)
	}
}

// FuzzReader feeds arbitrary streams to both decoders: they never panic,
// never return more than the limit, and every message the chunked
// decoder accepts is re-encoded and decoded to the same bytes.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"<hello/>]]>]]>",
		"\n#4\n<rpc\n#3\n/>a\n##\n",
		"\n#1\nx\n##\n\n#2\nyz\n##\n",
		"\n##\n",
		"\n#99999999999\n",
		"]]>]]>]]>]]>",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, chunked bool) {
		const limit = 1 << 16
		r := NewReader(bytes.NewReader(data), limit)
		if chunked {
			r.SetChunked()
		}
		for i := 0; i < 100; i++ {
			msg, err := r.ReadMessage()
			if err != nil {
				return
			}
			if len(msg) > limit {
				t.Fatalf("message of %d bytes exceeds the limit %d", len(msg), limit)
			}
			var buf bytes.Buffer
			w := NewWriter(&buf)
			if chunked {
				w.SetChunked()
			}
			// A message read in either framing can always be written
			// again: an end-of-message one never holds the delimiter, a
			// chunked one is never empty.
			if err := w.WriteMessage(msg); err != nil {
				t.Fatalf("re-encoding %q: %v", msg, err)
			}
			back := NewReader(&buf, limit)
			if chunked {
				back.SetChunked()
			}
			again, err := back.ReadMessage()
			if err != nil || !bytes.Equal(again, msg) {
				t.Fatalf("round trip of %q gave %q, %v", msg, again, err)
			}
		}
	})
}

// A client hello that already uses chunked framing (ncclient's race) is
// read; the reader stays in end-of-message framing.
func TestReadHelloEitherFraming(t *testing.T) {
	for _, in := range []string{"<hello/>]]>]]><rpc/>]]>]]>", "\n#8\n<hello/>\n##\n<rpc/>]]>]]>"} {
		r := NewReader(strings.NewReader(in), 0)
		hello, err := r.ReadHello()
		if err != nil || string(hello) != "<hello/>" {
			t.Fatalf("%q: ReadHello = %q, %v", in, hello, err)
		}
		if msg, err := r.ReadMessage(); err != nil || string(msg) != "<rpc/>" {
			t.Fatalf("%q: next message = %q, %v", in, msg, err)
		}
	}
}
