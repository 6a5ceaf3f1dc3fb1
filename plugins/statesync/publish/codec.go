package publish

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tandem-ha/tandem/plugins/statesync/publish/wire"
)

// valueVersion is the first byte of an entry's record value on the stream.
const valueVersion = 1

// encodeValue is an entry's record value on the stream: version, updated
// (Unix ms, varint), type (length byte + bytes), value and JSON (uvarint
// length + bytes). The key is the record's key.
func encodeValue(e *wire.Entry) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+1+len(e.Type)+2*binary.MaxVarintLen32+len(e.Value)+len(e.JSON))
	b = append(b, valueVersion)
	b = binary.AppendVarint(b, e.Updated)
	b = append(b, byte(len(e.Type)))
	b = append(b, e.Type...)
	b = binary.AppendUvarint(b, uint64(len(e.Value)))
	b = append(b, e.Value...)
	b = binary.AppendUvarint(b, uint64(len(e.JSON)))
	return append(b, e.JSON...)
}

// decodeValue parses a record received from the peer into the entry with
// key, and checks it against the protocol limits. Only the canonical
// encoding is accepted (minimal varints).
func decodeValue(key, b []byte) (wire.Entry, error) {
	e := wire.Entry{Key: string(key)}
	if len(b) == 0 || b[0] != valueVersion {
		return e, errors.New("value: unknown format version")
	}
	b = b[1:]
	upd, n := binary.Varint(b)
	if n <= 0 || n != len(binary.AppendVarint(nil, upd)) {
		return e, errors.New("value: bad updated time")
	}
	e.Updated, b = upd, b[n:]
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return e, errors.New("value: truncated type")
	}
	e.Type, b = string(b[1:1+int(b[0])]), b[1+int(b[0]):]
	field := func(max int) ([]byte, error) {
		l, n := binary.Uvarint(b)
		if n <= 0 || n != len(binary.AppendUvarint(nil, l)) || l > uint64(max) || l > uint64(len(b)-n) {
			return nil, fmt.Errorf("bad length (at most %d)", max)
		}
		out := b[n : n+int(l)]
		b = b[n+int(l):]
		if l == 0 {
			return nil, nil
		}
		return append([]byte(nil), out...), nil
	}
	var err error
	if e.Value, err = field(wire.MaxValueLen); err != nil {
		return e, fmt.Errorf("value: value: %w", err)
	}
	var js []byte
	if js, err = field(wire.MaxJSONLen); err != nil {
		return e, fmt.Errorf("value: json: %w", err)
	}
	e.JSON = js
	if len(b) != 0 {
		return e, fmt.Errorf("value: %d bytes after the entry", len(b))
	}
	if err := e.Check("entry"); err != nil {
		return e, fmt.Errorf("value: %w", err)
	}
	return e, nil
}
