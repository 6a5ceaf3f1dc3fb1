package neigh

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// CodecVersion starts every key and value; a decoder refuses any other.
const CodecVersion = 1

// ErrCodec is wrapped by every decoding error.
var ErrCodec = errors.New("neighbour record")

const (
	// ifnameMax is IFNAMSIZ - 1.
	ifnameMax = 15
	// lladdrMax is MAX_ADDR_LEN.
	lladdrMax = 32

	valueRouter = 1 << 0
	valueKnown  = valueRouter
)

// Entry is one neighbour entry: an IP address on an interface, resolved
// to a link-layer address.
type Entry struct {
	// Ifname is the interface's name; the standby maps it to its own
	// interface of that name.
	Ifname string
	Addr   netip.Addr
	LLAddr net.HardwareAddr
	// Router is the IPv6 router flag (NTF_ROUTER).
	Router bool
}

func (e *Entry) String() string {
	return fmt.Sprintf("%s dev %s lladdr %s", e.Addr, e.Ifname, e.LLAddr)
}

// Key layout: version, family (4 or 6), interface name length and name,
// address (4 or 16 bytes).
// Value layout: version, flags (bit 0: router), link-layer address length
// and bytes.

// AppendKey appends e's record key.
func AppendKey(b []byte, e *Entry) []byte {
	fam := byte(4)
	if !e.Addr.Is4() {
		fam = 6
	}
	b = append(b, CodecVersion, fam, byte(len(e.Ifname)))
	b = append(b, e.Ifname...)
	return append(b, e.Addr.AsSlice()...)
}

// AppendValue appends e's record value.
func AppendValue(b []byte, e *Entry) []byte {
	var flags byte
	if e.Router {
		flags |= valueRouter
	}
	b = append(b, CodecVersion, flags, byte(len(e.LLAddr)))
	return append(b, e.LLAddr...)
}

// UpsertRecord is the record that installs e on the standby.
func UpsertRecord(e *Entry) channel.Record {
	return channel.Record{Op: channel.Upsert, Key: AppendKey(nil, e), Value: AppendValue(nil, e)}
}

// DeleteRecord is the record that removes e from the standby.
func DeleteRecord(e *Entry) channel.Record {
	return channel.Record{Op: channel.Delete, Key: AppendKey(nil, e)}
}

func fail(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCodec}, a...)...)
}

// DecodeKey decodes a record key into an Entry with Ifname and Addr set.
func DecodeKey(key []byte) (Entry, error) {
	var e Entry
	if len(key) < 3 {
		return e, fail("key of %d bytes", len(key))
	}
	if key[0] != CodecVersion {
		return e, fail("key version %d, this unit speaks %d", key[0], CodecVersion)
	}
	alen := 0
	switch key[1] {
	case 4:
		alen = 4
	case 6:
		alen = 16
	default:
		return e, fail("key family %d, want 4 or 6", key[1])
	}
	n := int(key[2])
	if n == 0 || n > ifnameMax {
		return e, fail("interface name length %d, want 1 to %d", n, ifnameMax)
	}
	if len(key) != 3+n+alen {
		return e, fail("key of %d bytes, want %d", len(key), 3+n+alen)
	}
	name := key[3 : 3+n]
	for _, c := range name {
		if c <= ' ' || c > '~' || c == '/' || c == ':' {
			return e, fail("interface name has byte %#x", c)
		}
	}
	e.Ifname = string(name)
	e.Addr, _ = netip.AddrFromSlice(key[3+n:])
	return e, nil
}

// Decode decodes an Upsert record. It accepts only what AppendKey and
// AppendValue produce: records come from the peer over the network.
func Decode(key, value []byte) (Entry, error) {
	e, err := DecodeKey(key)
	if err != nil {
		return Entry{}, err
	}
	if len(value) < 3 {
		return Entry{}, fail("value of %d bytes", len(value))
	}
	if value[0] != CodecVersion {
		return Entry{}, fail("value version %d, this unit speaks %d", value[0], CodecVersion)
	}
	if value[1]&^valueKnown != 0 {
		return Entry{}, fail("value has unknown flags %#x", value[1]&^valueKnown)
	}
	n := int(value[2])
	if n == 0 || n > lladdrMax {
		return Entry{}, fail("link-layer address length %d, want 1 to %d", n, lladdrMax)
	}
	if len(value) != 3+n {
		return Entry{}, fail("value of %d bytes, want %d", len(value), 3+n)
	}
	e.Router = value[1]&valueRouter != 0
	e.LLAddr = append(net.HardwareAddr(nil), value[3:]...)
	return e, nil
}
