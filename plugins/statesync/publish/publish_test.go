package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/client"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/publishtest"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/wire"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not reached in 10 s: %s", what, last)
}

func dial(t *testing.T, path string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctxT(t, 5*time.Second), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func entry(key, value string) client.Entry {
	return client.Entry{Key: key, Type: "test.v1", Value: []byte(value)}
}

func channels(names ...string) []publish.ChannelConfig {
	var out []publish.ChannelConfig
	for _, n := range names {
		out = append(out, publish.ChannelConfig{Name: n})
	}
	return out
}

// values lists a unit's entries of ch as key=value.
func values(t *testing.T, c *client.Client, ch string) string {
	t.Helper()
	_, es, err := c.Get(ctxT(t, 5*time.Second), ch)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, e := range es {
		parts = append(parts, e.Key+"="+string(e.Value))
	}
	return strings.Join(parts, ",")
}

func waitValues(t *testing.T, c *client.Client, ch, want string) {
	t.Helper()
	eventually(t, "entries "+want, func() (bool, string) {
		got := values(t, c, ch)
		return got == want, got
	})
}

// TestPublishReachesStandbyAndWatchers is the path every published channel
// takes (SYNC-8, SYNC-9, SYNC-10): a service publishes on the active's
// socket, the stream carries it, the standby's service reads it (get and
// watch), deletions and replacements included; entries stay when the
// publishing service disconnects.
func TestPublishReachesStandbyAndWatchers(t *testing.T) {
	p := publishtest.NewPair(t, channels("dhcp-client", "dns-cache", "pppoe"), publishtest.Options{})
	ctx := ctxT(t, 20*time.Second)
	w, err := client.Watch(ctx, p.B.Socket, "dns-cache")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first, err := w.Next()
	if err != nil {
		t.Fatal(err)
	}
	if first.Kind != client.EventSnapshot || first.Role != client.RoleStandby || len(first.Entries) != 0 {
		t.Fatalf("first watch event %+v, want an empty snapshot with role standby", first)
	}
	eventually(t, "bulk sync", func() (bool, string) { return p.B.Endpoint.BulkComplete(), "" })
	pub, err := client.Dial(ctx, p.A.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Upsert(ctx, "dns-cache", entry("a.example./1/1", "192.0.2.1"), entry("b.example./1/1", "192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Upsert(ctx, "pppoe", entry("wan0", "session 7")); err != nil {
		t.Fatal(err)
	}
	rd := dial(t, p.B.Socket)
	// Both reach the standby before they change (the stream coalesces
	// changes of one key that are still queued).
	waitValues(t, rd, "dns-cache", "a.example./1/1=192.0.2.1,b.example./1/1=192.0.2.2")
	if err := pub.Upsert(ctx, "dns-cache", entry("a.example./1/1", "192.0.2.11")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Delete(ctx, "dns-cache", "b.example./1/1", "never.published./1/1"); err != nil {
		t.Fatal(err)
	}
	pub.Close() // the entries are state: they stay
	waitValues(t, rd, "dns-cache", "a.example./1/1=192.0.2.11")
	waitValues(t, rd, "pppoe", "wan0=session 7")
	// The watcher saw the changes in order (possibly preceded by the
	// bulk sync's snapshot when the standby joined).
	var view client.View
	view.Apply(first)
	var kinds []string
	eventually(t, "watch view", func() (bool, string) {
		for len(view.Entries) != 1 || string(view.Entries["a.example./1/1"].Value) != "192.0.2.11" {
			ev, err := w.Next()
			if err != nil {
				return false, err.Error()
			}
			kinds = append(kinds, ev.Kind)
			view.Apply(ev)
		}
		return true, ""
	})
	if !strings.Contains(strings.Join(kinds, ","), "delete") {
		t.Errorf("watch events %v: the deletion of b.example was not seen", kinds)
	}
	if got := p.B.Server.Store("dns-cache").Count(); got != 1 {
		t.Errorf("standby store holds %d entries, want 1", got)
	}
	// Replace: the service re-publishes its whole state.
	pub2 := dial(t, p.A.Socket)
	if err := pub2.Replace(ctx, "dns-cache", []client.Entry{entry("c.example./1/1", "192.0.2.3")}); err != nil {
		t.Fatal(err)
	}
	waitValues(t, rd, "dns-cache", "c.example./1/1=192.0.2.3")
	if role, _, _ := rd.Get(ctx, "dns-cache"); role != client.RoleStandby {
		t.Errorf("standby's role %q", role)
	}
	if role, _, _ := pub2.Get(ctx, "dns-cache"); role != client.RoleActive {
		t.Errorf("active's role %q", role)
	}
}

// TestPublishTakeoverSendsOn: after a takeover the new active's stores are
// the sources: what it received is sent on, with its own services'
// changes, to the old active when it comes back as standby; watchers see
// the role change (SYNC-8: the new active's service learns it owns the
// state).
func TestPublishTakeoverSendsOn(t *testing.T) {
	p := publishtest.NewPair(t, channels("dhcp-client"), publishtest.Options{})
	ctx := ctxT(t, 20*time.Second)
	a, b := dial(t, p.A.Socket), dial(t, p.B.Socket)
	if err := a.Upsert(ctx, "dhcp-client", entry("wan0", "lease-1")); err != nil {
		t.Fatal(err)
	}
	waitValues(t, b, "dhcp-client", "wan0=lease-1")
	w, err := client.Watch(ctx, p.B.Socket, "dhcp-client")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev, err := w.Next(); err != nil || ev.Role != client.RoleStandby {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	// Fail over: A becomes standby (as after a failback test it rejoins).
	p.A.Endpoint.SetRole(2) // stream.RoleStandby
	if err := p.B.Takeover(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "role event", func() (bool, string) {
		ev, err := w.Next()
		if err != nil {
			return false, err.Error()
		}
		return ev.Kind == client.EventRole && ev.Role == client.RoleActive, fmt.Sprintf("%+v", ev)
	})
	if err := b.Upsert(ctx, "dhcp-client", entry("wan1", "lease-2")); err != nil {
		t.Fatal(err)
	}
	waitValues(t, a, "dhcp-client", "wan0=lease-1,wan1=lease-2")
}

// TestPublishRefusesBadRequests: each refusal names the field at fault, and
// the connection stays usable.
func TestPublishRefusesBadRequests(t *testing.T) {
	dir := t.TempDir()
	srv, err := publish.Listen(publish.Config{Path: filepath.Join(dir, "s.sock"),
		Channels: []publish.ChannelConfig{{Name: "dns-cache", MaxEntries: 2}}, Logger: publishtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := ctxT(t, 10*time.Second)
	c := dial(t, filepath.Join(dir, "s.sock"))
	cases := []struct {
		name  string
		do    func() error
		field string
	}{
		{"unknown channel", func() error { return c.Upsert(ctx, "nope", entry("k", "v")) }, "channel"},
		{"bad channel", func() error { return c.Upsert(ctx, "Bad Name", entry("k", "v")) }, "channel"},
		{"empty key", func() error { return c.Upsert(ctx, "dns-cache", entry("", "v")) }, "entries[0].key"},
		{"bad type", func() error {
			return c.Upsert(ctx, "dns-cache", client.Entry{Key: "k", Type: "Has Space", Value: []byte("v")})
		}, "entries[0].type"},
		{"big value", func() error {
			return c.Upsert(ctx, "dns-cache", client.Entry{Key: "k", Type: "t", Value: make([]byte, wire.MaxValueLen+1)})
		}, "entries[0].value"},
		{"bad json", func() error {
			return c.Upsert(ctx, "dns-cache", client.Entry{Key: "k", Type: "t", JSON: json.RawMessage("{")})
		}, "entries[0].json"},
		{"duplicate key", func() error { return c.Upsert(ctx, "dns-cache", entry("k", "1"), entry("k", "2")) }, "entries[1].key"},
		{"no keys", func() error { return c.Delete(ctx, "dns-cache") }, "keys"},
		{"over the limit", func() error {
			return c.Upsert(ctx, "dns-cache", entry("1", "v"), entry("2", "v"), entry("3", "v"))
		}, "entries"},
	}
	for _, tc := range cases {
		err := tc.do()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%s: error %v, want one naming field %q", tc.name, err, tc.field)
		}
	}
	if got := srv.Store("dns-cache").Count(); got != 0 {
		t.Errorf("refused requests stored %d entries", got)
	}
	// The server checks too (a client that skips the library's checks).
	raw, err := net.Dial("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, tc := range []struct{ body, field string }{
		{`{"id":1,"op":"upsert","channel":"dns-cache","entries":[{"key":"k","type":"t","value":"!!"}]}`, "request"},
		{`{"id":2,"op":"frobnicate","channel":"dns-cache"}`, "op"},
		{`{"id":3,"op":"delete","channel":"dns-cache","keys":[""]}`, "keys[0]"},
		{`[1,2]`, "request"},
	} {
		if err := writeRaw(raw, []byte(tc.body)); err != nil {
			t.Fatal(err)
		}
		body, err := wire.ReadFrame(raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := wire.DecodeReply(body)
		if rep == nil || rep.Field != tc.field || rep.Error == "" {
			t.Errorf("%s: reply %s, want an error naming %q", tc.body, body, tc.field)
		}
	}
	// An oversized frame ends the connection with an error.
	var hdr [4]byte
	hdr[0] = 0x7f
	raw.Write(hdr[:])
	body, err := wire.ReadFrame(raw, 0)
	if err != nil || !bytes.Contains(body, []byte("at most")) {
		t.Errorf("oversized frame: reply %s, %v", body, err)
	}
	if _, err := wire.ReadFrame(raw, 0); err == nil {
		t.Error("connection still open after an oversized frame")
	}
}

func writeRaw(c net.Conn, body []byte) error {
	hdr := []byte{byte(len(body) >> 24), byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	_, err := c.Write(append(hdr, body...))
	return err
}

// TestPublishSocketIsRootOnly: the socket is created 0600, a stale socket
// is replaced, another file is never removed, and a user other than root
// cannot connect.
func TestPublishSocketIsRootOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "statesync.sock")
	cfg := publish.Config{Path: path, Channels: channels("pppoe"), Logger: publishtest.Logger()}
	srv, err := publish.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("setpriv"); err == nil {
			os.Chmod(dir, 0o755)
			out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
				"/usr/bin/python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])", path).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "PermissionError") {
				t.Errorf("uid 65534 connected to the socket (or could not try): %v: %s", err, out)
			}
		} else {
			t.Log("setpriv missing: the non-root connection is not tried")
		}
	}
	srv.Close()
	// A socket left behind by a crash: replaced.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	srv, err = publish.Listen(cfg)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	srv.Close()
	// Not a socket: refused, left alone.
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := publish.Listen(cfg); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Error("the regular file was replaced")
	}
}

// TestPublishConfigErrorsNameFields: bad configurations are refused with
// the field named.
func TestPublishConfigErrorsNameFields(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg   publish.Config
		field string
	}{
		{publish.Config{Channels: channels("pppoe")}, "Config.Path"},
		{publish.Config{Path: filepath.Join(dir, "1"), Channels: channels("PPPoE")}, "Channels[0].Name"},
		{publish.Config{Path: filepath.Join(dir, "2"), Channels: channels("pppoe", "pppoe")}, "Channels[1].Name"},
		{publish.Config{Path: filepath.Join(dir, "3"), Channels: []publish.ChannelConfig{{Name: "x", Interval: -1}}}, "Channels[0].Interval"},
	} {
		if _, err := publish.Listen(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("config %+v: error %v, want one naming %s", tc.cfg, err, tc.field)
		}
	}
}

// TestPublishConnectionLimit: beyond MaxConns a service is told why.
func TestPublishConnectionLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	srv, err := publish.Listen(publish.Config{Path: path, Channels: channels("pppoe"), MaxConns: 2, Logger: publishtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := ctxT(t, 10*time.Second)
	c1, c2 := dial(t, path), dial(t, path)
	for _, c := range []*client.Client{c1, c2} {
		if _, _, err := c.Get(ctx, "pppoe"); err != nil {
			t.Fatal(err)
		}
	}
	c3 := dial(t, path)
	_, _, err = c3.Get(ctx, "pppoe")
	if err == nil || !strings.Contains(err.Error(), "at most 2") {
		t.Errorf("third connection: %v, want the connection limit", err)
	}
	c1.Close()
	eventually(t, "a slot frees", func() (bool, string) {
		_, _, err := c3.Get(ctx, "pppoe")
		return err == nil, fmt.Sprint(err)
	})
}

// TestPublishSlowWatcherGetsSnapshot: a watcher that does not read is not
// allowed to grow the server's memory: its queue is dropped and it gets a
// fresh snapshot that is the channel's true state.
func TestPublishSlowWatcherGetsSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	srv, err := publish.Listen(publish.Config{Path: path, Channels: channels("dns-cache"), ReaderQueue: 8, Logger: publishtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := ctxT(t, 20*time.Second)
	w, err := client.Watch(ctx, path, "dns-cache")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Next(); err != nil {
		t.Fatal(err)
	}
	pub := dial(t, path)
	// Big entries fill the socket buffer so that the server's queue for
	// the watcher overflows while the test does not read.
	big := strings.Repeat("x", 60000)
	for i := range 200 {
		if err := pub.Upsert(ctx, "dns-cache", entry(fmt.Sprintf("k%03d", i), big)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Delete(ctx, "dns-cache", "k000"); err != nil {
		t.Fatal(err)
	}
	var view client.View
	sawResnap := false
	eventually(t, "watcher converges", func() (bool, string) {
		for len(view.Entries) != 199 || view.Entries["k000"].Key != "" || view.Entries["k199"].Key == "" {
			ev, err := w.Next()
			if err != nil {
				return false, err.Error()
			}
			if ev.Kind == client.EventSnapshot {
				sawResnap = true
			}
			view.Apply(ev)
		}
		return true, ""
	})
	if !sawResnap {
		t.Error("the slow watcher never got a new snapshot: the server queued everything")
	}
}
