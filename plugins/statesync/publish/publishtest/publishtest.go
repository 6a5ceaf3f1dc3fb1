// Package publishtest runs the real publish path of two units in one test
// process: on each unit a publish.Server (the socket services connect to)
// whose stores are the channels of a real stream.Endpoint, the two
// endpoints talking UDP to each other. Services under test connect to
// the units' sockets as they would to the plugin's.
package publishtest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/stream"
)

// Key is the pre-shared key of test pairs.
var Key = []byte("publishtest pre-shared key")

// Unit is one unit of a Pair.
type Unit struct {
	Name     string
	Socket   string
	Server   *publish.Server
	Endpoint *stream.Endpoint
	cancel   context.CancelFunc
	done     chan struct{}
	stopped  bool
}

// Pair is two units whose stores are synced.
type Pair struct {
	A, B *Unit
}

// Options tune a Pair; zero fields take defaults.
type Options struct {
	// ConnA and ConnB are the units' stream sockets (for example bound
	// inside network namespaces); loopback sockets when nil.
	ConnA, ConnB *net.UDPConn
	// Dir holds the sockets; t.TempDir() when empty.
	Dir string
}

// Logger is the test logger: silent unless PUBLISH_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("PUBLISH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// NewPair starts unit A as active and unit B as standby, each serving
// channels on its own socket. Everything stops when the test ends.
func NewPair(t testing.TB, channels []publish.ChannelConfig, opt Options) *Pair {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	listen := func(c *net.UDPConn) *net.UDPConn {
		if c != nil {
			return c
		}
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, cb := listen(opt.ConnA), listen(opt.ConnB)
	a := startUnit(t, "a", filepath.Join(opt.Dir, "a.sock"), ca, cb.LocalAddr().(*net.UDPAddr).AddrPort(), channels)
	b := startUnit(t, "b", filepath.Join(opt.Dir, "b.sock"), cb, ca.LocalAddr().(*net.UDPAddr).AddrPort(), channels)
	a.Endpoint.SetRole(stream.RoleActive)
	b.Endpoint.SetRole(stream.RoleStandby)
	return &Pair{A: a, B: b}
}

func startUnit(t testing.TB, name, sock string, conn *net.UDPConn, peer netip.AddrPort, channels []publish.ChannelConfig) *Unit {
	t.Helper()
	srv, err := publish.Listen(publish.Config{Path: sock, Channels: channels, Logger: Logger().With("unit", name)})
	if err != nil {
		t.Fatal(err)
	}
	var chans []stream.Channel
	for _, st := range srv.Stores() {
		chans = append(chans, stream.Channel{Source: st, Sink: st})
	}
	ep, err := stream.New(stream.Config{Conn: conn, Peer: peer, Key: Key, Logger: Logger().With("unit", name),
		Keepalive: 50 * time.Millisecond, PeerTimeout: time.Second}, chans...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &Unit{Name: name, Socket: sock, Server: srv, Endpoint: ep, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		if err := ep.Run(ctx); err != nil {
			t.Errorf("unit %s: stream: %v", name, err)
		}
	}()
	t.Cleanup(u.Stop)
	return u
}

// Stop ends the unit's stream and closes its publish server, as when the
// unit dies.
func (u *Unit) Stop() {
	if u.stopped {
		return
	}
	u.stopped = true
	u.cancel()
	<-u.done
	_ = u.Server.Close()
}

// Takeover makes u active as the HA engine does: confirm that everything
// received is installed, then switch the role.
func (u *Unit) Takeover(ctx context.Context) error {
	if err := u.Endpoint.Confirm(ctx); err != nil {
		return err
	}
	u.Endpoint.SetRole(stream.RoleActive)
	return nil
}
