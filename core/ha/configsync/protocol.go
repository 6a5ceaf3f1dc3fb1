// Package configsync keeps the standby's configuration equal to the
// active's (CFG-1, CFG-2, CFG-4). The active pushes over TCP on the HA
// control link; the standby answers with the hash of its running
// configuration, and the active sends the changes since that
// configuration when it still has it in its history (incremental) or the
// whole configuration otherwise (complete), and also when an incremental
// push does not produce the expected result. Every message after the
// opening nonce is authenticated with HMAC-SHA256 under a key derived
// from the cluster pre-shared key, over both sides' fresh nonces, so a
// recorded session cannot be replayed and nothing unauthenticated ever
// changes the configuration.
package configsync

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// maxMessage bounds one protocol message (a complete configuration).
const maxMessage = 8 << 20

// Sync modes.
const (
	ModeIncremental = "incremental"
	ModeComplete    = "complete"
)

// frame is one message on the wire: a JSON object per message.
type frame struct {
	Kind string          `json:"kind"`
	Body json.RawMessage `json:"body"`
	MAC  string          `json:"mac,omitempty"`
}

// hello opens a session (active to standby): the active's nonce.
type hello struct {
	Nonce  string `json:"nonce"`
	Serial string `json:"serial"`
}

// state answers hello (standby to active): its nonce and running config.
type state struct {
	Nonce    string `json:"nonce"`
	Serial   string `json:"serial"`
	Hash     string `json:"hash"`
	Revision uint64 `json:"revision"`
	// Accepting is false on a unit that takes no pushes (it is active).
	Accepting bool `json:"accepting"`
}

// push carries a configuration (active to standby).
type push struct {
	Mode       string          `json:"mode"`
	BaseHash   string          `json:"base_hash,omitempty"`
	TargetHash string          `json:"target_hash"`
	Revision   uint64          `json:"revision"`
	Changes    []model.Change  `json:"changes,omitempty"`
	Config     json.RawMessage `json:"config,omitempty"`
}

// fetch asks for the peer's running configuration (CFG-4 diff); it is
// answered with a config message.
type fetch struct{}

// config carries a running configuration (answer to fetch).
type config struct {
	Config   json.RawMessage `json:"config"`
	Hash     string          `json:"hash"`
	Revision uint64          `json:"revision"`
}

// result answers push (standby to active).
type result struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Revision uint64 `json:"revision"`
	Hash     string `json:"hash"`
}

// ErrAuth says a message failed authentication: the units hold different
// pre-shared keys, or someone else is talking.
var ErrAuth = errors.New("config sync: message failed authentication (different pre-shared keys?)")

// deriveKey derives the sync key from the pre-shared key.
func deriveKey(psk string) ([]byte, error) {
	if psk == "" {
		return nil, errors.New("no pre-shared key: configuration is never synced unauthenticated")
	}
	return hkdf.Key(sha256.New, []byte(psk), []byte("tandem config sync v1"), "hmac", 32)
}

// mac authenticates a frame's kind and body under key, bound to the
// session's nonces.
func mac(key []byte, kind string, body []byte, nonces ...string) string {
	h := hmac.New(sha256.New, key)
	for _, n := range nonces {
		h.Write([]byte(n))
		h.Write([]byte{0})
	}
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// seal builds an authenticated frame.
func seal(key []byte, kind string, v any, nonces ...string) (frame, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return frame{}, err
	}
	return frame{Kind: kind, Body: body, MAC: mac(key, kind, body, nonces...)}, nil
}

// open checks a frame's kind and MAC and decodes its body into v.
func open(key []byte, f frame, kind string, v any, nonces ...string) error {
	if f.Kind != kind {
		return fmt.Errorf("config sync: got %q, want %q", f.Kind, kind)
	}
	if !hmac.Equal([]byte(f.MAC), []byte(mac(key, kind, f.Body, nonces...))) {
		return ErrAuth
	}
	return json.Unmarshal(f.Body, v)
}

// Hash is the fingerprint of a configuration: SHA-256 of its canonical
// RFC 7951 encoding.
func Hash(d *tandem.Device) (string, error) {
	b, err := model.Encode(d)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
