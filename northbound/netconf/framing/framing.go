// Package framing reads and writes NETCONF messages over a byte stream as
// RFC 6242 defines them: the base:1.0 end-of-message framing, where every
// message ends with "]]>]]>", and the base:1.1 chunked framing
// ("\n#<size>\n<data>" ... "\n##\n"). A session starts in end-of-message
// framing (the hellos) and switches to chunked framing when both peers
// announce base:1.1.
package framing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// EndOfMessage is the base:1.0 message delimiter.
const EndOfMessage = "]]>]]>"

// DefaultMaxMessage is the largest message a Reader accepts unless told
// otherwise.
const DefaultMaxMessage = 32 << 20

// maxChunk is the largest chunk size RFC 6242 allows (2^32-1).
const maxChunk = 4294967295

// ErrMalformed is wrapped by every framing error: the peer broke RFC 6242
// and the session cannot continue.
var ErrMalformed = errors.New("malformed NETCONF framing")

// ErrTooLarge is wrapped when a message exceeds the reader's limit.
var ErrTooLarge = errors.New("NETCONF message too large")

// Reader reads whole messages from a stream.
type Reader struct {
	r       *bufio.Reader
	chunked bool
	max     int
}

// NewReader returns a Reader in end-of-message framing that refuses
// messages larger than max bytes (DefaultMaxMessage when max <= 0).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// SetChunked switches the reader to base:1.1 chunked framing.
func (r *Reader) SetChunked() { r.chunked = true }

// ReadMessage returns the next message. io.EOF means the stream ended
// cleanly between messages; a stream that ends inside a message gives
// io.ErrUnexpectedEOF.
func (r *Reader) ReadMessage() ([]byte, error) {
	if r.chunked {
		return r.readChunked()
	}
	return r.readEOM()
}

// ReadHello reads the peer's <hello>. RFC 6242 sends it in
// end-of-message framing, but a client may already use chunked framing
// when it announces base:1.1 (ncclient does when the server's hello
// arrives before its own is sent), so a message that starts with a chunk
// header is read as chunked. The reader's framing does not change.
func (r *Reader) ReadHello() ([]byte, error) {
	if head, err := r.r.Peek(2); err == nil && string(head) == "\n#" {
		return r.readChunked()
	}
	return r.readEOM()
}

func (r *Reader) readEOM() ([]byte, error) {
	var msg []byte
	delim := []byte(EndOfMessage)
	for {
		b, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(bytes.TrimSpace(msg)) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		msg = append(msg, b)
		if b == '>' && bytes.HasSuffix(msg, delim) {
			return msg[:len(msg)-len(delim)], nil
		}
		if len(msg) > r.max+len(delim) {
			return nil, fmt.Errorf("%w: more than %d bytes without %s", ErrTooLarge, r.max, EndOfMessage)
		}
	}
}

func (r *Reader) readChunked() ([]byte, error) {
	var msg []byte
	for first := true; ; first = false {
		size, end, err := r.chunkHeader()
		if err != nil {
			if first && err == io.EOF {
				return nil, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if end {
			if first {
				return nil, fmt.Errorf("%w: end-of-chunks without a chunk", ErrMalformed)
			}
			return msg, nil
		}
		if uint64(len(msg))+size > uint64(r.max) {
			return nil, fmt.Errorf("%w: message exceeds %d bytes", ErrTooLarge, r.max)
		}
		start := len(msg)
		msg = append(msg, make([]byte, size)...)
		if _, err := io.ReadFull(r.r, msg[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// chunkHeader reads "\n#<size>\n" (size 1..2^32-1, no leading zero) or
// the end-of-chunks marker "\n##\n". A clean end of stream before the
// first byte is io.EOF.
func (r *Reader) chunkHeader() (size uint64, end bool, err error) {
	b, err := r.r.ReadByte()
	if err != nil {
		return 0, false, err
	}
	if b != '\n' {
		return 0, false, fmt.Errorf("%w: chunk header starts with %q, want \"\\n#\"", ErrMalformed, b)
	}
	if b, err = r.r.ReadByte(); err != nil {
		return 0, false, unexpected(err)
	}
	if b != '#' {
		return 0, false, fmt.Errorf("%w: chunk header has %q after the newline, want '#'", ErrMalformed, b)
	}
	var digits []byte
	for {
		if b, err = r.r.ReadByte(); err != nil {
			return 0, false, unexpected(err)
		}
		switch {
		case b == '#' && len(digits) == 0:
			if b, err = r.r.ReadByte(); err != nil {
				return 0, false, unexpected(err)
			}
			if b != '\n' {
				return 0, false, fmt.Errorf("%w: end-of-chunks marker \"\\n##\" not followed by a newline", ErrMalformed)
			}
			return 0, true, nil
		case b >= '0' && b <= '9':
			if len(digits) == 0 && b == '0' {
				return 0, false, fmt.Errorf("%w: chunk size starts with 0", ErrMalformed)
			}
			if len(digits) == 10 {
				return 0, false, fmt.Errorf("%w: chunk size has more than 10 digits", ErrMalformed)
			}
			digits = append(digits, b)
		case b == '\n' && len(digits) > 0:
			n, err := strconv.ParseUint(string(digits), 10, 64)
			if err != nil || n > maxChunk {
				return 0, false, fmt.Errorf("%w: chunk size %s is above 4294967295", ErrMalformed, digits)
			}
			return n, false, nil
		default:
			return 0, false, fmt.Errorf("%w: unexpected %q in chunk header", ErrMalformed, b)
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer writes whole messages to a stream. It is safe for concurrent
// use: each message is written in one piece.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	chunked bool
}

// NewWriter returns a Writer in end-of-message framing.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// SetChunked switches the writer to base:1.1 chunked framing.
func (w *Writer) SetChunked() {
	w.mu.Lock()
	w.chunked = true
	w.mu.Unlock()
}

// WriteMessage writes msg with the current framing. In end-of-message
// framing a message containing "]]>]]>" cannot be delimited and is
// refused.
func (w *Writer) WriteMessage(msg []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var buf bytes.Buffer
	if w.chunked {
		if len(msg) == 0 {
			return fmt.Errorf("%w: a chunked message needs at least one byte", ErrMalformed)
		}
		fmt.Fprintf(&buf, "\n#%d\n", len(msg))
		buf.Write(msg)
		buf.WriteString("\n##\n")
	} else {
		if bytes.Contains(msg, []byte(EndOfMessage)) {
			return fmt.Errorf("%w: message contains %s and cannot be sent in base:1.0 framing", ErrMalformed, EndOfMessage)
		}
		buf.Write(msg)
		buf.WriteString(EndOfMessage)
	}
	_, err := w.w.Write(buf.Bytes())
	return err
}
