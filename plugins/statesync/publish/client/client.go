// Package client is the library a service imports to publish its state
// to tandem's state sync plugin and to read the peer's after a takeover
// (SPEC SYNC-8..11): it speaks package wire over the plugin's unix socket
// (the unit's data directory, "statesync.sock").
//
// On the active unit a service publishes its entries with Upsert, Delete
// and Replace; they reach the standby's plugin within the stream's lag.
// On the standby the same service reads them with Get, or follows them
// with Watch, and takes over with them when the role becomes active.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/publish/wire"
)

// Entry is a published entry; see wire.Entry.
type Entry = wire.Entry

// Roles and events, re-exported from package wire.
const (
	RoleActive    = wire.RoleActive
	RoleStandby   = wire.RoleStandby
	EventSnapshot = wire.EventSnapshot
	EventUpsert   = wire.EventUpsert
	EventDelete   = wire.EventDelete
	EventRole     = wire.EventRole
)

// DefaultTimeout bounds one request when the context has no deadline.
const DefaultTimeout = 10 * time.Second

// Error is a request the server refused: Field names the request field
// at fault ("entries[2].key", "channel").
type Error struct {
	Op, Channel string
	Field       string
	Reason      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("statesync publish %s %s: %s: %s", e.Op, e.Channel, e.Field, e.Reason)
}

// Client is a connection to the publish server. It is safe for concurrent
// use; requests are serialized. A broken connection is re-established by
// the next request, which is sent again once (every request is
// idempotent).
type Client struct {
	path string
	mu   sync.Mutex
	conn net.Conn
	id   uint64
}

// Dial connects to the publish socket at path.
func Dial(ctx context.Context, path string) (*Client, error) {
	c := &Client{path: path}
	conn, err := dial(ctx, path)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	return c, nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("statesync publish: connect %s: %w", path, err)
	}
	return conn, nil
}

// Close closes the connection. Published entries stay.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// Upsert publishes entries of ch: created or replaced. Many or large
// entries are sent in several requests, each applied whole.
func (c *Client) Upsert(ctx context.Context, ch string, entries ...Entry) error {
	if len(entries) == 0 {
		_, err := c.do(ctx, &wire.Request{Op: wire.OpUpsert, Channel: ch})
		return err
	}
	for _, part := range wire.Chunks(entries) {
		for len(part) > 0 {
			n := min(len(part), wire.MaxBatch)
			if _, err := c.do(ctx, &wire.Request{Op: wire.OpUpsert, Channel: ch, Entries: part[:n]}); err != nil {
				return err
			}
			part = part[n:]
		}
	}
	return nil
}

// deleteBatch is the most keys sent in one delete request (it fits a
// frame whatever the keys' length).
const deleteBatch = 4096

// Delete removes keys of ch; keys not there are not an error.
func (c *Client) Delete(ctx context.Context, ch string, keys ...string) error {
	for first := true; first || len(keys) > 0; first = false {
		n := min(len(keys), deleteBatch)
		if _, err := c.do(ctx, &wire.Request{Op: wire.OpDelete, Channel: ch, Keys: keys[:n]}); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// Replace makes ch hold exactly entries: for a service that re-publishes
// everything it has (after its own restart). It is one request: at most
// wire.MaxBatch entries and wire.MaxFrame bytes.
func (c *Client) Replace(ctx context.Context, ch string, entries []Entry) error {
	_, err := c.do(ctx, &wire.Request{Op: wire.OpReplace, Channel: ch, Entries: entries})
	return err
}

// Flush sends a periodic channel's entries to the peer now (SYNC-11: on
// update) instead of at the next period.
func (c *Client) Flush(ctx context.Context, ch string) error {
	_, err := c.do(ctx, &wire.Request{Op: wire.OpFlush, Channel: ch})
	return err
}

// Get returns the unit's role and every entry of ch, sorted by key.
func (c *Client) Get(ctx context.Context, ch string) (role string, entries []Entry, err error) {
	rep, err := c.do(ctx, &wire.Request{Op: wire.OpGet, Channel: ch})
	if err != nil {
		return "", nil, err
	}
	return rep.Role, rep.Entries, nil
}

// do sends req and reads its reply, reconnecting once after an I/O error.
func (c *Client) do(ctx context.Context, req *wire.Request) (*wire.Reply, error) {
	if err := req.Check(); err != nil {
		var fe *wire.FieldError
		errors.As(err, &fe)
		return nil, &Error{Op: req.Op, Channel: req.Channel, Field: fe.Field, Reason: fe.Reason}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var rep *wire.Reply
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if c.conn == nil {
			if c.conn, err = dial(ctx, c.path); err != nil {
				return nil, err
			}
		}
		c.id++
		req.ID = c.id
		rep, err = roundTrip(ctx, c.conn, req)
		var refused *Error
		if errors.As(err, &refused) {
			c.conn.Close()
			c.conn = nil
			return nil, err
		}
		if err == nil {
			break
		}
		c.conn.Close()
		c.conn = nil
		if ctx.Err() != nil {
			return nil, fmt.Errorf("statesync publish %s %s: %w", req.Op, req.Channel, ctx.Err())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("statesync publish %s %s: %w", req.Op, req.Channel, err)
	}
	if rep.Error != "" {
		return nil, &Error{Op: req.Op, Channel: req.Channel, Field: rep.Field, Reason: rep.Error}
	}
	return rep, nil
}

func roundTrip(ctx context.Context, conn net.Conn, req *wire.Request) (*wire.Reply, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if err := wire.WriteFrame(conn, req); err != nil {
		// The server may have refused the connection and closed it before
		// the request arrived: its reason is still to be read.
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if rep, rerr := readReply(conn); rerr == nil && rep.ID == 0 && rep.Error != "" {
			return nil, &Error{Op: req.Op, Channel: req.Channel, Field: rep.Field, Reason: rep.Error}
		}
		return nil, err
	}
	rep, err := readReply(conn)
	if err != nil {
		return nil, err
	}
	if rep.ID == 0 && rep.Error != "" {
		// The server refused the connection itself (limit, credentials).
		return nil, &Error{Op: req.Op, Channel: req.Channel, Field: rep.Field, Reason: rep.Error}
	}
	if rep.ID != req.ID {
		return nil, fmt.Errorf("reply %d to request %d", rep.ID, req.ID)
	}
	return rep, nil
}

// readReply reads one reply or event, joining the frames of a split one.
func readReply(conn net.Conn) (*wire.Reply, error) {
	var out *wire.Reply
	for {
		body, err := wire.ReadFrame(conn, wire.MaxFrame)
		if err != nil {
			return nil, err
		}
		rep, err := wire.DecodeReply(body)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = rep
		} else {
			if rep.ID != out.ID || rep.Event != out.Event {
				return nil, fmt.Errorf("continuation %d/%q of reply %d/%q", rep.ID, rep.Event, out.ID, out.Event)
			}
			if len(out.Entries)+len(rep.Entries) > wire.MaxBatch*2 {
				return nil, fmt.Errorf("reply of more than %d entries", wire.MaxBatch*2)
			}
			out.Entries = append(out.Entries, rep.Entries...)
		}
		if !rep.More {
			out.More = false
			return out, nil
		}
	}
}

// Event is one event of a Watch: a snapshot (Entries is the whole
// channel), upserted Entries, deleted Keys, or a role change. Role is set
// on snapshots and role events.
type Event struct {
	Kind    string
	Role    string
	Entries []Entry
	Keys    []string
}

// Watcher follows one channel on its own connection.
type Watcher struct {
	ch   string
	conn net.Conn
	stop func() bool
}

// Watch connects to the socket at path and follows ch: the first event is
// a snapshot with the unit's role, then every change and role change.
// The watch ends when ctx ends or Close is called.
func Watch(ctx context.Context, path, ch string) (*Watcher, error) {
	req := &wire.Request{ID: 1, Op: wire.OpWatch, Channel: ch}
	if err := req.Check(); err != nil {
		var fe *wire.FieldError
		errors.As(err, &fe)
		return nil, &Error{Op: req.Op, Channel: ch, Field: fe.Field, Reason: fe.Reason}
	}
	conn, err := dial(ctx, path)
	if err != nil {
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(DefaultTimeout))
	if err := wire.WriteFrame(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("statesync publish watch %s: %w", ch, err)
	}
	return &Watcher{ch: ch, conn: conn, stop: context.AfterFunc(ctx, func() { conn.Close() })}, nil
}

// Next blocks until the next event. After an error the Watcher is done:
// Watch again (the new snapshot replaces what was known).
func (w *Watcher) Next() (Event, error) {
	rep, err := readReply(w.conn)
	if err != nil {
		return Event{}, fmt.Errorf("statesync publish watch %s: %w", w.ch, err)
	}
	if rep.Error != "" {
		return Event{}, &Error{Op: wire.OpWatch, Channel: w.ch, Field: rep.Field, Reason: rep.Error}
	}
	return Event{Kind: rep.Event, Role: rep.Role, Entries: rep.Entries, Keys: rep.Keys}, nil
}

// Close ends the watch.
func (w *Watcher) Close() error {
	w.stop()
	return w.conn.Close()
}

// View is a channel's entries and the unit's role as a watcher knows
// them; Apply keeps it current.
type View struct {
	Role    string
	Entries map[string]Entry
}

// Apply updates v with ev.
func (v *View) Apply(ev Event) {
	if v.Entries == nil || ev.Kind == EventSnapshot {
		v.Entries = map[string]Entry{}
	}
	if ev.Role != "" {
		v.Role = ev.Role
	}
	switch ev.Kind {
	case EventSnapshot, EventUpsert:
		for _, e := range ev.Entries {
			v.Entries[e.Key] = e
		}
	case EventDelete:
		for _, k := range ev.Keys {
			delete(v.Entries, k)
		}
	}
}
