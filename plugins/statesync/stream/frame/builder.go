package frame

import (
	"encoding/binary"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// DataBuilder fills one data payload up to a size limit. The zero value is unusable: call
// Reset.
type DataBuilder struct {
	buf   []byte
	limit int
	items int
}

// Reset starts a payload for data sequence seq of generation gen in buf's storage, at most
// limit bytes long.
func (b *DataBuilder) Reset(buf []byte, limit int, seq, gen uint64) {
	b.buf = binary.BigEndian.AppendUint64(buf[:0], seq)
	b.buf = binary.BigEndian.AppendUint64(b.buf, gen)
	b.limit = limit
	b.items = 0
}

// Bytes returns the payload.
func (b *DataBuilder) Bytes() []byte { return b.buf }

// Items is the number of items added.
func (b *DataBuilder) Items() int { return b.items }

// room is the number of bytes still free.
func (b *DataBuilder) room() int { return b.limit - len(b.buf) }

// AddBulkBegin adds a BULK_BEGIN marker with the channel table, if it fits.
func (b *DataBuilder) AddBulkBegin(chs []ChannelName) bool {
	n := 1 + uvarintLen(len(chs))
	for _, c := range chs {
		n += 1 + uvarintLen(len(c.Name)) + len(c.Name)
	}
	if n > b.room() {
		return false
	}
	b.buf = append(b.buf, MarkerBulkBegin<<3|byte(KindMarker))
	b.buf = binary.AppendUvarint(b.buf, uint64(len(chs)))
	for _, c := range chs {
		b.buf = append(b.buf, c.ID)
		b.buf = binary.AppendUvarint(b.buf, uint64(len(c.Name)))
		b.buf = append(b.buf, c.Name...)
	}
	b.items++
	return true
}

// AddBulkEnd adds a BULK_END marker, if it fits.
func (b *DataBuilder) AddBulkEnd() bool {
	if b.room() < 1 {
		return false
	}
	b.buf = append(b.buf, MarkerBulkEnd<<3|byte(KindMarker))
	b.items++
	return true
}

// AddRecord adds a whole record of channel ch, if it fits.
func (b *DataBuilder) AddRecord(ch uint8, op channel.Op, key, value []byte) bool {
	if RecordSize(op, key, value) > b.room() {
		return false
	}
	kind := KindUpsert
	if op == channel.Delete {
		kind = KindDelete
	}
	b.buf = append(b.buf, ch<<3|byte(kind))
	b.buf = binary.AppendUvarint(b.buf, uint64(len(key)))
	b.buf = append(b.buf, key...)
	if kind == KindUpsert {
		b.buf = binary.AppendUvarint(b.buf, uint64(len(value)))
		b.buf = append(b.buf, value...)
	}
	b.items++
	return true
}

// AddFirst starts a fragmented Upsert: key, the value's total length and as much of the
// value as fits, less than all of it. It returns the number of value bytes added, 0 when
// not even one fits (or the value would fit whole: use AddRecord).
func (b *DataBuilder) AddFirst(ch uint8, key, value []byte) int {
	fixed := 1 + uvarintLen(len(key)) + len(key) + uvarintLen(len(value))
	n := chunkFits(b.room()-fixed, len(value)-1)
	if n <= 0 {
		return 0
	}
	b.buf = append(b.buf, ch<<3|byte(KindFirst))
	b.buf = binary.AppendUvarint(b.buf, uint64(len(key)))
	b.buf = append(b.buf, key...)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(value)))
	b.buf = binary.AppendUvarint(b.buf, uint64(n))
	b.buf = append(b.buf, value[:n]...)
	b.items++
	return n
}

// AddMore adds the next chunk of a fragmented value (as much of rest as fits) and returns
// the number of bytes added.
func (b *DataBuilder) AddMore(ch uint8, rest []byte) int {
	n := chunkFits(b.room()-1, len(rest))
	if n <= 0 {
		return 0
	}
	b.buf = append(b.buf, ch<<3|byte(KindMore))
	b.buf = binary.AppendUvarint(b.buf, uint64(n))
	b.buf = append(b.buf, rest[:n]...)
	b.items++
	return n
}

// chunkFits is the largest chunk length <= want whose length prefix and bytes fit in room.
func chunkFits(room, want int) int {
	n := min(want, room-1)
	for n > 0 && uvarintLen(n)+n > room {
		n--
	}
	return n
}
