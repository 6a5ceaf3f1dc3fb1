// Package wire is the protocol between the state sync plugin's publish
// server and the services that publish state to it (SYNC-8..11): frames
// on a unix stream socket, each a 4-byte big-endian length followed by
// one JSON object of at most MaxFrame bytes. A service sends Requests;
// the server answers each with a Reply carrying the request's id. A
// "watch" request turns the connection into a stream of Replies that
// are events (snapshot, upsert, delete, role) until either side closes.
//
// The limits are checked on both sides: a Request that breaks one is
// refused with an error that names the field.
package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Protocol limits.
const (
	// MaxFrame is the largest frame body (the JSON object) in bytes.
	MaxFrame = 8 << 20
	// MaxKeyLen is the longest entry key in bytes (the stream's limit on
	// record keys).
	MaxKeyLen = 1024
	// MaxTypeLen is the longest entry type.
	MaxTypeLen = 64
	// MaxValueLen is the largest entry value in bytes.
	MaxValueLen = 64 << 10
	// MaxJSONLen is the largest human-readable JSON of an entry.
	MaxJSONLen = 16 << 10
	// MaxBatch is the most entries or keys in one request.
	MaxBatch = 100000
	// MaxChannelLen is the longest channel name.
	MaxChannelLen = 32
)

// Request operations.
const (
	// OpUpsert creates or replaces Entries of Channel.
	OpUpsert = "upsert"
	// OpDelete removes Keys of Channel; unknown keys are not an error.
	OpDelete = "delete"
	// OpReplace makes Channel hold exactly Entries (a service's full
	// snapshot, for bulk re-publication after its own restart).
	OpReplace = "replace"
	// OpGet returns every entry of Channel and the unit's role.
	OpGet = "get"
	// OpWatch returns the role and a snapshot of Channel, then streams
	// every change and role change on the same connection.
	OpWatch = "watch"
	// OpFlush sends a periodic channel's entries to the peer now rather
	// than at the next period (SYNC-11: "on update").
	OpFlush = "flush"
)

// Reply events of a watch.
const (
	// EventSnapshot: Entries is the whole channel; forget what you had.
	EventSnapshot = "snapshot"
	// EventUpsert: Entries were created or replaced.
	EventUpsert = "upsert"
	// EventDelete: Keys were removed.
	EventDelete = "delete"
	// EventRole: the unit's role changed; Role is the new one.
	EventRole = "role"
)

// Roles reported to services.
const (
	// RoleActive: this unit's stream sends its state to the peer; its
	// services own the state (hold the DHCP lease, run the PPPoE session).
	RoleActive = "active"
	// RoleStandby: this unit does not send; its channels hold what the
	// active sent, for its services to take over with.
	RoleStandby = "standby"
)

// Entry is one published entry: opaque to tandem, typed for readers.
type Entry struct {
	// Key identifies the entry within its channel ("wan0", "example.com/A/IN").
	Key string `json:"key"`
	// Type names the value's format ("tandem.dhcp-lease.v1"): 1..64 of
	// [a-z0-9.+_-].
	Type string `json:"type"`
	// Value is the entry, in the format Type names (base64 in JSON).
	Value []byte `json:"value,omitempty"`
	// JSON, optional, is a human-readable rendering for status output.
	JSON json.RawMessage `json:"json,omitempty"`
	// Updated is when the entry was last published, in Unix milliseconds;
	// set by the server, ignored in requests.
	Updated int64 `json:"updated,omitempty"`
}

// Request is a frame from a service to the server.
type Request struct {
	// ID is echoed in the Reply; the client numbers its requests.
	ID uint64 `json:"id"`
	// Op is one of the Op constants.
	Op string `json:"op"`
	// Channel is the channel's name ("dhcp-client", "dns-cache", ...).
	Channel string `json:"channel"`
	// Entries are the entries of upsert and replace.
	Entries []Entry `json:"entries,omitempty"`
	// Keys are the keys of delete.
	Keys []string `json:"keys,omitempty"`
}

// Reply is a frame from the server: the answer to a Request, or an event
// of a watch.
type Reply struct {
	// ID is the request's id.
	ID uint64 `json:"id"`
	// Error, when not empty, says why the request was refused; Field names
	// the request field at fault ("entries[3].key").
	Error string `json:"error,omitempty"`
	Field string `json:"field,omitempty"`
	// Event is set on watch streams: one of the Event constants.
	Event string `json:"event,omitempty"`
	// Role is the unit's role (get, watch and role events).
	Role string `json:"role,omitempty"`
	// Entries and Keys are the answer's or the event's entries and keys.
	Entries []Entry  `json:"entries,omitempty"`
	Keys    []string `json:"keys,omitempty"`
	// More says that the next frame continues this one's Entries (a
	// reply or event too big for one frame); readers join them.
	More bool `json:"more,omitempty"`
}

// ChunkBytes is the budget of entries in one frame when a reply or event
// is split with More.
const ChunkBytes = 4 << 20

// Chunks splits entries into runs whose JSON fits ChunkBytes: never
// empty, so that an empty list is one empty chunk.
func Chunks(entries []Entry) [][]Entry {
	var out [][]Entry
	start, size := 0, 0
	for i, e := range entries {
		n := 64 + len(e.Key)*2 + len(e.Type) + (len(e.Value)+2)/3*4 + len(e.JSON)
		if i > start && size+n > ChunkBytes {
			out = append(out, entries[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(out, entries[start:])
}

// FieldError is a refused request: Field names what is wrong and Reason
// why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func bad(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// ReadFrame reads one frame body of at most max bytes (MaxFrame when max
// is 0 or larger).
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	if max <= 0 || max > MaxFrame {
		max = MaxFrame
	}
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return nil, errors.New("wire: empty frame")
	}
	if int64(n) > int64(max) {
		return nil, fmt.Errorf("wire: frame of %d bytes, at most %d", n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("wire: frame body: %w", err)
	}
	return body, nil
}

// WriteFrame encodes v as JSON and writes it as one frame.
func WriteFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("wire: encode: %w", err)
	}
	if len(body) > MaxFrame {
		return fmt.Errorf("wire: frame of %d bytes, at most %d: send fewer entries per request", len(body), MaxFrame)
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	_, err = w.Write(buf)
	return err
}

// DecodeRequest parses and checks a request frame body.
func DecodeRequest(body []byte) (*Request, error) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, bad("request", "not a JSON request object: %v", err)
	}
	if err := req.Check(); err != nil {
		return &req, err
	}
	return &req, nil
}

// DecodeReply parses a reply frame body and checks its entries.
func DecodeReply(body []byte) (*Reply, error) {
	var rep Reply
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("wire: reply: %w", err)
	}
	for i := range rep.Entries {
		if err := rep.Entries[i].Check(fmt.Sprintf("entries[%d]", i)); err != nil {
			return nil, fmt.Errorf("wire: reply: %w", err)
		}
	}
	return &rep, nil
}

// Check verifies the request's operation, channel and entries against
// the protocol limits; the error is a *FieldError.
func (r *Request) Check() error {
	if !ValidChannel(r.Channel) {
		return bad("channel", "%q, want 1..%d of [a-z0-9_-]", trunc(r.Channel), MaxChannelLen)
	}
	switch r.Op {
	case OpUpsert, OpReplace:
		if len(r.Keys) > 0 {
			return bad("keys", "not allowed with %s", r.Op)
		}
		if r.Op == OpUpsert && len(r.Entries) == 0 {
			return bad("entries", "upsert needs at least one entry")
		}
		if len(r.Entries) > MaxBatch {
			return bad("entries", "%d entries, at most %d per request", len(r.Entries), MaxBatch)
		}
		seen := make(map[string]int, len(r.Entries))
		for i := range r.Entries {
			field := fmt.Sprintf("entries[%d]", i)
			if err := r.Entries[i].Check(field); err != nil {
				return err
			}
			if j, dup := seen[r.Entries[i].Key]; dup {
				return bad(field+".key", "%q also in entries[%d]", trunc(r.Entries[i].Key), j)
			}
			seen[r.Entries[i].Key] = i
		}
	case OpDelete:
		if len(r.Entries) > 0 {
			return bad("entries", "not allowed with delete")
		}
		if len(r.Keys) == 0 {
			return bad("keys", "delete needs at least one key")
		}
		if len(r.Keys) > MaxBatch {
			return bad("keys", "%d keys, at most %d per request", len(r.Keys), MaxBatch)
		}
		for i, k := range r.Keys {
			if err := checkKey(k); err != nil {
				return bad(fmt.Sprintf("keys[%d]", i), "%v", err)
			}
		}
	case OpGet, OpWatch, OpFlush:
		if len(r.Entries) > 0 || len(r.Keys) > 0 {
			return bad("entries", "not allowed with %s", r.Op)
		}
	case "":
		return bad("op", "missing: want upsert, delete, replace, get, watch or flush")
	default:
		return bad("op", "%q, want upsert, delete, replace, get, watch or flush", trunc(r.Op))
	}
	return nil
}

// Check verifies one entry; field prefixes the field names of errors.
func (e *Entry) Check(field string) error {
	if err := checkKey(e.Key); err != nil {
		return bad(field+".key", "%v", err)
	}
	if !ValidType(e.Type) {
		return bad(field+".type", "%q, want 1..%d of [a-z0-9.+_-]", trunc(e.Type), MaxTypeLen)
	}
	if len(e.Value) > MaxValueLen {
		return bad(field+".value", "%d bytes, at most %d", len(e.Value), MaxValueLen)
	}
	if len(e.JSON) > 0 {
		if len(e.JSON) > MaxJSONLen {
			return bad(field+".json", "%d bytes, at most %d", len(e.JSON), MaxJSONLen)
		}
		if !json.Valid(e.JSON) {
			return bad(field+".json", "not valid JSON")
		}
	}
	return nil
}

func checkKey(k string) error {
	switch {
	case k == "":
		return errors.New("empty")
	case len(k) > MaxKeyLen:
		return fmt.Errorf("%d bytes, at most %d", len(k), MaxKeyLen)
	case !utf8.ValidString(k):
		return errors.New("not valid UTF-8")
	}
	return nil
}

// ValidChannel reports whether s can name a channel: 1..MaxChannelLen
// bytes of [a-z0-9_-].
func ValidChannel(s string) bool {
	if len(s) == 0 || len(s) > MaxChannelLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidType reports whether s can name an entry type: 1..MaxTypeLen
// bytes of [a-z0-9.+_-].
func ValidType(s string) bool {
	if len(s) == 0 || len(s) > MaxTypeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}

// trunc shortens s for an error message.
func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
