package netconf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/netconf/framing"
	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
	"github.com/tandem-ha/tandem/northbound/service"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
	yangfs "github.com/tandem-ha/tandem/yang"
)

// fixture is a NETCONF server on a real datastore, event log and
// authenticator in a temporary directory, listening on loopback.
type fixture struct {
	t        testing.TB
	dir      string
	addr     string
	password string
	b        *service.Backend
	srv      *Server
	standby  *bool
}

func newFixture(t *testing.T) *fixture { return newBenchFixture(t) }

// newBenchFixture is newFixture for tests and benchmarks.
func newBenchFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(filepath.Join(dir, "config.db"), store.Options{Validate: validate.StoreValidator, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	tree := telemetry.NewTree("TEST0001")
	events, err := telemetry.OpenEventLog(filepath.Join(dir, "events.db"), 100, tree)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(filepath.Join(dir, auth.BootstrapFile))
	if err != nil {
		t.Fatal(err)
	}
	standby := false
	b := &service.Backend{Store: st, Tree: tree, Events: events, Auth: a, Logger: log,
		MayConfigure: func() error {
			if standby {
				return errors.New("this unit is the standby; change the configuration on the active unit")
			}
			return nil
		}}
	srv, err := New(Options{Addr: "127.0.0.1:0", HostKeyFile: filepath.Join(dir, "ssh_host_ed25519_key")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, b) }()
	addr := srv.Addr(ctx)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		events.Close()
		st.Close()
	})
	return &fixture{t: t, dir: dir, addr: addr.String(), password: strings.TrimSpace(string(pw)), b: b, srv: srv, standby: &standby}
}

// client is a minimal NETCONF client for the server's own tests.
type client struct {
	t       testing.TB
	conn    *ssh.Client
	sess    *ssh.Session
	r       *framing.Reader
	w       *framing.Writer
	id      string // session-id from the server's hello
	caps    []string
	msgID   int
	mu      sync.Mutex
	replies chan []byte
	notifs  chan []byte
}

// dial logs in with user/password and exchanges hellos announcing the
// given base versions ("1.0", "1.1").
func (f *fixture) dial(user, password string, bases ...string) (*client, error) {
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	return dialWith(f.t, f.addr, cfg, bases...)
}

func dialWith(t testing.TB, addr string, cfg *ssh.ClientConfig, bases ...string) (*client, error) {
	conn, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	sess, err := conn.NewSession()
	if err != nil {
		conn.Close()
		return nil, err
	}
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	if err := sess.RequestSubsystem("netconf"); err != nil {
		conn.Close()
		return nil, err
	}
	c := &client{t: t, conn: conn, sess: sess, r: framing.NewReader(stdout, 0), w: framing.NewWriter(stdin),
		replies: make(chan []byte, 16), notifs: make(chan []byte, 256)}
	hello, err := c.r.ReadMessage()
	if err != nil {
		conn.Close()
		return nil, err
	}
	el, err := xmltree.Parse(hello)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.id = text(el, baseNS, "session-id")
	for _, cp := range el.Child(baseNS, "capabilities").Children {
		c.caps = append(c.caps, strings.TrimSpace(cp.Text))
	}
	var b strings.Builder
	b.WriteString(`<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>`)
	chunked, early := false, false
	for _, v := range bases {
		if v == "1.1-early" { // ncclient's race: the hello itself is chunked
			v, early = "1.1", true
		}
		b.WriteString("<capability>urn:ietf:params:netconf:base:" + v + "</capability>")
		chunked = chunked || v == "1.1"
	}
	b.WriteString(`</capabilities></hello>`)
	if early {
		c.w.SetChunked()
	}
	if err := c.w.WriteMessage([]byte(b.String())); err != nil {
		conn.Close()
		return nil, err
	}
	if chunked {
		c.r.SetChunked()
		c.w.SetChunked()
	}
	go c.readLoop()
	t.Cleanup(func() { conn.Close() })
	return c, nil
}

func (f *fixture) admin(bases ...string) *client {
	f.t.Helper()
	if len(bases) == 0 {
		bases = []string{"1.0", "1.1"}
	}
	c, err := f.dial("admin", f.password, bases...)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (c *client) readLoop() {
	defer close(c.replies)
	for {
		msg, err := c.r.ReadMessage()
		if err != nil {
			return
		}
		if strings.Contains(string(msg[:min(len(msg), 200)]), "<notification") {
			c.notifs <- msg
			continue
		}
		c.replies <- msg
	}
}

// rpc sends an operation and returns the parsed rpc-reply.
func (c *client) rpc(op string) *xmltree.Element {
	c.t.Helper()
	c.mu.Lock()
	c.msgID++
	id := c.msgID
	c.mu.Unlock()
	msg := fmt.Sprintf(`<rpc message-id="%d" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">%s</rpc>`, id, op)
	if err := c.w.WriteMessage([]byte(msg)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
	select {
	case reply, ok := <-c.replies:
		if !ok {
			c.t.Fatalf("session closed while waiting for the reply to %s", op)
		}
		el, err := xmltree.Parse(reply)
		if err != nil {
			c.t.Fatalf("reply %s: %v", reply, err)
		}
		if got, _ := el.Attr("", "message-id"); got != fmt.Sprint(id) {
			c.t.Fatalf("reply message-id %q, want %d", got, id)
		}
		return el
	case <-time.After(20 * time.Second):
		c.t.Fatalf("no reply to %s", op)
	}
	return nil
}

// ok sends op and fails the test unless the reply is <ok/>.
func (c *client) ok(op string) {
	c.t.Helper()
	r := c.rpc(op)
	if r.Child(baseNS, "ok") == nil {
		c.t.Fatalf("%s: reply is not <ok/>: %s", op, describe(r))
	}
}

// fail sends op and returns its rpc-errors, failing the test if none.
func (c *client) fail(op string) []*xmltree.Element {
	c.t.Helper()
	r := c.rpc(op)
	var errs []*xmltree.Element
	for _, ch := range r.Children {
		if ch.Name.Local == "rpc-error" {
			errs = append(errs, ch)
		}
	}
	if len(errs) == 0 {
		c.t.Fatalf("%s: succeeded, want rpc-error: %s", op, describe(r))
	}
	return errs
}

// data sends op and returns the <data> element of the reply.
func (c *client) data(op string) *xmltree.Element {
	c.t.Helper()
	r := c.rpc(op)
	d := r.Child(baseNS, "data")
	if d == nil {
		c.t.Fatalf("%s: no <data> in reply: %s", op, describe(r))
	}
	return d
}

// describe renders an element back to XML for failure messages.
func describe(el *xmltree.Element) string {
	var w xmltree.Writer
	el.Write(&w)
	return string(w.Bytes())
}

// find walks el along names (local names, any namespace).
func find(el *xmltree.Element, names ...string) *xmltree.Element {
	for _, n := range names {
		var next *xmltree.Element
		for _, c := range el.Children {
			if c.Name.Local == n {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		el = next
	}
	return el
}

func errTag(e *xmltree.Element) string { return text(e, baseNS, "error-tag") }

// labPairConfigXML is the lab pair's configuration as a NETCONF <config>.
func labPairConfigXML(t testing.TB) string {
	t.Helper()
	s, err := xmltree.Load(yangfs.FS, "*.yang", "ietf/*.yang")
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := s.FromJSON([]byte(topo.PairConfig))
	if err != nil {
		t.Fatal(err)
	}
	var w xmltree.Writer
	w.Start(baseNS, "config")
	s.WriteNodes(&w, nodes)
	w.End()
	return string(w.Bytes())
}
