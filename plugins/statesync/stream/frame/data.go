package frame

import (
	"encoding/binary"
	"fmt"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// Limits of the data payload.
const (
	// MaxChannels is the number of channel ids (0..31) one generation can carry.
	MaxChannels = 32
	// MaxKeyLen is the longest record key: a key always fits one datagram.
	MaxKeyLen = 1024
	// MaxValueLen is the longest record value; values longer than a datagram are fragmented.
	MaxValueLen = 16 << 20
	// MaxNameLen is the longest channel name.
	MaxNameLen = 32
	// dataFixed is the data sequence number and the generation.
	dataFixed = 16
)

// Kind is the kind of an item of a data payload (the low 3 bits of its first byte; the high
// 5 bits are the channel id, or the marker code).
type Kind uint8

// Item kinds.
const (
	// KindMarker is a stream marker (BULK_BEGIN, BULK_END).
	KindMarker Kind = 0
	// KindUpsert is a whole Upsert record.
	KindUpsert Kind = 1
	// KindDelete is a Delete record (key only).
	KindDelete Kind = 2
	// KindFirst starts an Upsert whose value is longer than what fits: it carries the key,
	// the value's total length and its first chunk.
	KindFirst Kind = 3
	// KindMore carries the next chunk of the value KindFirst started; chunks follow each
	// other in data sequence order with nothing between them.
	KindMore Kind = 4
)

// Marker codes.
const (
	// MarkerBulkBegin starts a generation: the full bulk sync of every channel follows
	// (SYNC-7). It carries the channel table: id -> name.
	MarkerBulkBegin uint8 = 1
	// MarkerBulkEnd ends the bulk sync: the standby replaces each channel's entries by
	// what the bulk and the records since BULK_BEGIN installed.
	MarkerBulkEnd uint8 = 2
)

// ChannelName maps a channel id of the data stream to the channel's name.
type ChannelName struct {
	ID   uint8
	Name string
}

// Item is one element of a data payload. Key, Value and the names alias the payload.
type Item struct {
	Kind Kind
	// Marker is the marker code of a KindMarker item.
	Marker uint8
	// Channels is the channel table of a BULK_BEGIN marker.
	Channels []ChannelName
	// Channel is the channel id of a record or chunk.
	Channel uint8
	// Key of KindUpsert, KindDelete, KindFirst.
	Key []byte
	// Value of KindUpsert; the chunk of KindFirst and KindMore.
	Value []byte
	// Total is the full value length of KindFirst.
	Total int
}

// Data is a decoded data payload.
type Data struct {
	// Seq is the data sequence number: 1, 2, 3... per sender session, over data datagrams
	// only; a retransmission keeps it.
	Seq uint64
	// Gen is the sequence number of the generation's first datagram: datagrams of an older
	// generation are obsolete.
	Gen   uint64
	Items []Item
}

// ParseData decodes a data payload.
func ParseData(p []byte) (Data, error) {
	if len(p) < dataFixed {
		return Data{}, fmt.Errorf("%w: data payload of %d bytes", ErrMalformed, len(p))
	}
	d := Data{Seq: binary.BigEndian.Uint64(p), Gen: binary.BigEndian.Uint64(p[8:])}
	if d.Gen == 0 || d.Gen > d.Seq {
		return Data{}, fmt.Errorf("%w: sequence %d of generation %d", ErrMalformed, d.Seq, d.Gen)
	}
	r := reader{b: p[dataFixed:]}
	for !r.done() {
		it, err := r.item()
		if err != nil {
			return Data{}, fmt.Errorf("%w: item %d: %v", ErrMalformed, len(d.Items), err)
		}
		d.Items = append(d.Items, it)
	}
	return d, nil
}

// reader decodes items.
type reader struct{ b []byte }

func (r *reader) done() bool { return len(r.b) == 0 }

func (r *reader) uvarint(limit uint64) (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, fmt.Errorf("bad varint")
	}
	if v > limit {
		return 0, fmt.Errorf("length %d above %d", v, limit)
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *reader) bytes(limit uint64) ([]byte, error) {
	n, err := r.uvarint(limit)
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, fmt.Errorf("length %d, %d bytes left", n, len(r.b))
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v, nil
}

func (r *reader) item() (Item, error) {
	h := r.b[0]
	r.b = r.b[1:]
	it := Item{Kind: Kind(h & 7), Channel: h >> 3}
	var err error
	switch it.Kind {
	case KindMarker:
		it.Marker, it.Channel = it.Channel, 0
		switch it.Marker {
		case MarkerBulkBegin:
			it.Channels, err = r.channels()
		case MarkerBulkEnd:
		default:
			err = fmt.Errorf("unknown marker %d", it.Marker)
		}
	case KindUpsert:
		if it.Key, err = r.bytes(MaxKeyLen); err == nil {
			it.Value, err = r.bytes(MaxValueLen)
		}
	case KindDelete:
		it.Key, err = r.bytes(MaxKeyLen)
	case KindFirst:
		var total uint64
		if it.Key, err = r.bytes(MaxKeyLen); err != nil {
			break
		}
		if total, err = r.uvarint(MaxValueLen); err != nil {
			break
		}
		it.Total = int(total)
		if it.Value, err = r.bytes(MaxValueLen); err == nil && (len(it.Value) == 0 || len(it.Value) >= it.Total) {
			err = fmt.Errorf("first chunk of %d bytes for a value of %d", len(it.Value), it.Total)
		}
	case KindMore:
		if it.Value, err = r.bytes(MaxValueLen); err == nil && len(it.Value) == 0 {
			err = fmt.Errorf("empty chunk")
		}
	default:
		err = fmt.Errorf("unknown item kind %d", it.Kind)
	}
	return it, err
}

func (r *reader) channels() ([]ChannelName, error) {
	n, err := r.uvarint(MaxChannels)
	if err != nil {
		return nil, err
	}
	out := make([]ChannelName, 0, n)
	var ids uint32
	for range n {
		if len(r.b) == 0 {
			return nil, fmt.Errorf("channel table truncated")
		}
		id := r.b[0]
		r.b = r.b[1:]
		name, err := r.bytes(MaxNameLen)
		if err != nil {
			return nil, err
		}
		if id >= MaxChannels || ids&(1<<id) != 0 || !ValidName(string(name)) {
			return nil, fmt.Errorf("channel %d %q", id, name)
		}
		ids |= 1 << id
		out = append(out, ChannelName{ID: id, Name: string(name)})
	}
	return out, nil
}

// ValidName reports whether s can name a channel: 1..MaxNameLen bytes of [a-z0-9_-].
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// RecordSize is the encoded size of a whole record item.
func RecordSize(op channel.Op, key, value []byte) int {
	n := 1 + uvarintLen(len(key)) + len(key)
	if op == channel.Upsert {
		n += uvarintLen(len(value)) + len(value)
	}
	return n
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}
