package configsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// sessionTimeout bounds one sync session.
const sessionTimeout = 10 * time.Second

// errNotAccepting says the peer takes no pushes: it is active too.
var errNotAccepting = errors.New("the peer does not accept configuration (it is active)")

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// conn wraps a TCP connection with JSON framing and a size bound: a
// session reads at most 2 x maxMessage bytes unless an authenticated
// firmware header raises the bound (limit).
type conn struct {
	c     net.Conn
	limit *io.LimitedReader
	dec   *json.Decoder
	enc   *json.Encoder
}

func newConn(c net.Conn) *conn {
	_ = c.SetDeadline(time.Now().Add(sessionTimeout))
	limit := &io.LimitedReader{R: c, N: 2 * maxMessage}
	return &conn{c: c, limit: limit, dec: json.NewDecoder(limit), enc: json.NewEncoder(c)}
}

func (c *conn) read() (frame, error) {
	var f frame
	if err := c.dec.Decode(&f); err != nil {
		return frame{}, fmt.Errorf("config sync: read: %w", err)
	}
	return f, nil
}

// Outcome is what one push session did.
type Outcome struct {
	// Mode is incremental or complete; empty when the peer was already
	// in sync and nothing was sent.
	Mode string
	// Changes counts the leaves sent in an incremental push.
	Changes int
	// PeerRevision and PeerHash are the peer's running configuration
	// after the session.
	PeerRevision uint64
	PeerHash     string
}

// pushTo makes the peer at addr hold the running configuration of st. It
// sends changes when the peer's configuration is one of the last
// revisions of st, the whole configuration otherwise or when the
// incremental push fails.
func pushTo(ctx context.Context, addr, serial string, key []byte, st *store.Store) (Outcome, error) {
	out, err := pushSession(ctx, addr, serial, key, st, false)
	if err != nil && out.Mode == ModeIncremental {
		return pushSession(ctx, addr, serial, key, st, true)
	}
	return out, err
}

func pushSession(ctx context.Context, addr, serial string, key []byte, st *store.Store, complete bool) (Outcome, error) {
	c, nc, peer, err := dial(ctx, addr, serial, key)
	if err != nil {
		return Outcome{}, err
	}
	defer c.c.Close()
	running, info := st.Running()
	hash, err := Hash(running)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{PeerRevision: peer.Revision, PeerHash: peer.Hash}
	if peer.Hash == hash {
		return out, nil
	}
	if !peer.Accepting {
		return out, errNotAccepting
	}
	p := push{TargetHash: hash, Revision: info.ID}
	if !complete {
		if base := findBase(st, peer.Hash); base != nil {
			changes, err := model.Diff(base, running)
			if err == nil && !touchesSecret(changes) {
				p.Mode, p.BaseHash, p.Changes = ModeIncremental, peer.Hash, changes
			}
		}
	}
	if p.Mode == "" {
		cfg, err := model.Encode(running)
		if err != nil {
			return out, err
		}
		p.Mode, p.Config = ModeComplete, cfg
	}
	out.Mode, out.Changes = p.Mode, len(p.Changes)
	pf, err := seal(key, "push", p, peer.Nonce)
	if err != nil {
		return out, err
	}
	if err := c.enc.Encode(pf); err != nil {
		return out, err
	}
	f, err := c.read()
	if err != nil {
		return out, err
	}
	var res result
	if err := open(key, f, "result", &res, nc, peer.Nonce); err != nil {
		return out, err
	}
	out.PeerRevision, out.PeerHash = res.Revision, res.Hash
	if !res.OK {
		return out, fmt.Errorf("config sync: the peer refused the %s configuration: %s", p.Mode, res.Error)
	}
	return out, nil
}

// dial opens a session to the peer at addr as unit serial: hello with a
// fresh nonce nc, then the peer's authenticated state. The caller closes
// c.c.
func dial(ctx context.Context, addr, serial string, key []byte) (c *conn, nc string, peer state, err error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, "", state{}, fmt.Errorf("config sync: %w", err)
	}
	c = newConn(raw)
	nc = nonce()
	if err := c.enc.Encode(frame{Kind: "hello", Body: mustJSON(hello{Nonce: nc, Serial: serial})}); err != nil {
		raw.Close()
		return nil, "", state{}, err
	}
	f, err := c.read()
	if err == nil {
		err = open(key, f, "state", &peer, nc)
	}
	if err != nil {
		raw.Close()
		return nil, "", state{}, err
	}
	return c, nc, peer, nil
}

// findBase returns the configuration among the last revisions of st whose
// hash is h, or nil.
func findBase(st *store.Store, h string) *tandem.Device {
	for _, info := range st.History(32) {
		d, _, err := st.Revision(info.ID)
		if err != nil {
			continue
		}
		if hd, err := Hash(d); err == nil && hd == h {
			return d
		}
	}
	return nil
}

// touchesSecret reports a change to a write-only leaf, whose value a diff
// does not carry: such a change goes as a complete configuration.
func touchesSecret(changes []model.Change) bool {
	for _, c := range changes {
		if string(c.Value) == `"(secret)"` {
			return true
		}
	}
	return false
}

// serve answers one push session on the standby. accepting says whether
// this unit takes configuration now (it is not active); fw receives a
// firmware sync (nil refuses it).
func serve(ctx context.Context, raw net.Conn, serial string, key []byte, st *store.Store, accepting bool, fw *firmwareReceiver) (Outcome, string, error) {
	defer raw.Close()
	c := newConn(raw)
	f, err := c.read()
	if err != nil {
		return Outcome{}, "", err
	}
	var h hello
	if f.Kind != "hello" || json.Unmarshal(f.Body, &h) != nil || h.Nonce == "" {
		return Outcome{}, "", errors.New("config sync: session did not start with hello")
	}
	running, info := st.Running()
	hash, err := Hash(running)
	if err != nil {
		return Outcome{}, h.Serial, err
	}
	ns := nonce()
	sf, err := seal(key, "state", state{Nonce: ns, Serial: serial, Hash: hash, Revision: info.ID, Accepting: accepting}, h.Nonce)
	if err != nil {
		return Outcome{}, h.Serial, err
	}
	if err := c.enc.Encode(sf); err != nil {
		return Outcome{}, h.Serial, err
	}
	if f, err = c.read(); err != nil {
		if errors.Is(err, io.EOF) {
			return Outcome{}, h.Serial, nil // in sync, or only testing: nothing more
		}
		return Outcome{}, h.Serial, err
	}
	if !accepting && f.Kind != "fetch" {
		return Outcome{}, h.Serial, errors.New("config sync: push refused, this unit is active")
	}
	if f.Kind == "fetch" {
		return Outcome{}, h.Serial, answerFetch(c, key, f, running, info.ID, hash, h.Nonce, ns)
	}
	if f.Kind == kindFirmware {
		return Outcome{}, h.Serial, fw.receive(ctx, c, key, f, h.Nonce, ns)
	}
	var p push
	if err := open(key, f, "push", &p, ns); err != nil {
		return Outcome{}, h.Serial, err
	}
	out := Outcome{Mode: p.Mode, Changes: len(p.Changes)}
	res := result{}
	rev, applyErr := apply(ctx, st, p, hash, h.Serial)
	if applyErr != nil {
		res.Error = applyErr.Error()
	} else {
		res.OK = true
	}
	running, info = st.Running()
	res.Revision = info.ID
	res.Hash, _ = Hash(running)
	if rev > 0 {
		out.PeerRevision = rev
	}
	rf, err := seal(key, "result", res, h.Nonce, ns)
	if err != nil {
		return out, h.Serial, err
	}
	if err := c.enc.Encode(rf); err != nil {
		return out, h.Serial, err
	}
	return out, h.Serial, applyErr
}

// answerFetch sends the running configuration to an authenticated fetch.
func answerFetch(c *conn, key []byte, f frame, running *tandem.Device, rev uint64, hash, nc, ns string) error {
	var req fetch
	if err := open(key, f, "fetch", &req, ns); err != nil {
		return err
	}
	raw, err := model.Encode(running)
	if err != nil {
		return err
	}
	cf, err := seal(key, "config", config{Config: raw, Hash: hash, Revision: rev}, nc, ns)
	if err != nil {
		return err
	}
	return c.enc.Encode(cf)
}

// Peer is what a session learned of the peer.
type Peer struct {
	Serial    string
	Revision  uint64
	Hash      string
	Accepting bool
	// Config is the peer's running configuration, when fetched.
	Config *tandem.Device
}

// inspect opens a session to the peer at addr and returns its state; with
// fetchConfig it also fetches its running configuration. Nothing changes
// on either side.
func inspect(ctx context.Context, addr, serial string, key []byte, fetchConfig bool) (Peer, error) {
	c, nc, st, err := dial(ctx, addr, serial, key)
	if err != nil {
		return Peer{}, err
	}
	defer c.c.Close()
	p := Peer{Serial: st.Serial, Revision: st.Revision, Hash: st.Hash, Accepting: st.Accepting}
	if !fetchConfig {
		return p, nil
	}
	ff, err := seal(key, "fetch", fetch{}, st.Nonce)
	if err != nil {
		return p, err
	}
	if err := c.enc.Encode(ff); err != nil {
		return p, err
	}
	f, err := c.read()
	if err != nil {
		return p, err
	}
	var cfg config
	if err := open(key, f, "config", &cfg, nc, st.Nonce); err != nil {
		return p, err
	}
	if p.Config, err = model.Decode(cfg.Config); err != nil {
		return p, fmt.Errorf("config sync: the peer's configuration: %w", err)
	}
	return p, nil
}

// apply commits a pushed configuration to st as a revision of origin sync
// and returns its id.
func apply(ctx context.Context, st *store.Store, p push, hash, from string) (uint64, error) {
	var next *tandem.Device
	switch p.Mode {
	case ModeComplete:
		d, err := model.Decode(p.Config)
		if err != nil {
			return 0, err
		}
		next = d
	case ModeIncremental:
		if p.BaseHash != hash {
			return 0, errors.New("incremental push against another base configuration")
		}
		running, _ := st.Running()
		for _, ch := range p.Changes {
			var err error
			if ch.Deleted {
				err = model.Delete(running, ch.Path)
			} else {
				err = model.Set(running, ch.Path, ch.Value)
			}
			if err != nil {
				return 0, fmt.Errorf("incremental change %s: %w", ch.Path, err)
			}
		}
		next = running
	default:
		return 0, fmt.Errorf("unknown sync mode %q", p.Mode)
	}
	if h, err := Hash(next); err != nil || h != p.TargetHash {
		return 0, errors.New("the result differs from the active's configuration")
	}
	info, err := st.Update(ctx, "sync", store.Meta{
		Author: from, Origin: "sync",
		Comment: fmt.Sprintf("%s sync of revision %d from %s", p.Mode, p.Revision, from),
	}, func(d *tandem.Device) error {
		*d = *next
		return nil
	})
	return info.ID, err
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
