package publish

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/publish/wire"
)

// Defaults of the zero Config and ChannelConfig fields.
const (
	DefaultMaxEntries   = 65536
	DefaultMaxConns     = 64
	DefaultReaderQueue  = 4096
	DefaultWriteTimeout = 10 * time.Second
	// DefaultLeaseInterval is the period of the DHCP server leases
	// channel (tandem-statesync dhcp-lease-interval, SYNC-11).
	DefaultLeaseInterval = 5 * time.Minute
	// DefaultCertificateInterval is the period of the certificates
	// channel (tandem-statesync certificate-interval, SYNC-11).
	DefaultCertificateInterval = 60 * time.Minute
)

// Well-known channel names: the tandem-statesync categories served here.
const (
	ChannelDHCPClient       = "dhcp-client"
	ChannelDNSCache         = "dns-cache"
	ChannelPPPoE            = "pppoe"
	ChannelDHCPServerLeases = "dhcp-server-leases"
	ChannelCertificates     = "certificates"
)

// ChannelConfig is one published channel.
type ChannelConfig struct {
	// Name is the channel's name, the same on both units.
	Name string
	// Interval, when not 0, makes the channel periodic (SYNC-11): its
	// entries are sent every Interval (and on flush) instead of at every
	// change.
	Interval time.Duration
	// MaxEntries bounds the channel; DefaultMaxEntries when 0.
	MaxEntries int
}

// DefaultChannel returns the configuration of a well-known channel with
// its default period: dhcp-server-leases every 5 min, certificates every
// 60 min, the others at every change.
func DefaultChannel(name string) ChannelConfig {
	c := ChannelConfig{Name: name}
	switch name {
	case ChannelDHCPServerLeases:
		c.Interval = DefaultLeaseInterval
	case ChannelCertificates:
		c.Interval = DefaultCertificateInterval
	case ChannelDNSCache:
		c.MaxEntries = 200000
	}
	return c
}

// Config configures a Server.
type Config struct {
	// Path is the unix socket's path; its directory must exist. A stale
	// socket there is replaced; any other file is an error.
	Path string
	// Channels are the channels services may publish to.
	Channels []ChannelConfig
	// MaxConns bounds concurrent service connections; DefaultMaxConns.
	MaxConns int
	// ReaderQueue bounds the events waiting for one watching service;
	// beyond, the service gets a fresh snapshot instead. DefaultReaderQueue.
	ReaderQueue int
	// WriteTimeout bounds one write to a service. DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is the publish server: the channels' stores and the socket
// services connect to.
type Server struct {
	cfg    Config
	log    *slog.Logger
	ln     *net.UnixListener
	stores map[string]*Store
	order  []*Store

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	active  int // running Watches: the stream sends, the unit is active
	closed  bool
	wg      sync.WaitGroup
	stopped chan struct{}
}

// Listen checks cfg, creates the socket (mode 0600) and serves it until
// Close.
func Listen(cfg Config) (*Server, error) {
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ReaderQueue == 0 {
		cfg.ReaderQueue = DefaultReaderQueue
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "statesync-publish"), stores: map[string]*Store{},
		conns: map[net.Conn]struct{}{}, stopped: make(chan struct{})}
	var errs []error
	if cfg.Path == "" {
		errs = append(errs, errors.New("publish: Config.Path: empty"))
	}
	if cfg.MaxConns < 1 || cfg.ReaderQueue < 1 || cfg.WriteTimeout < 0 {
		errs = append(errs, errors.New("publish: Config.MaxConns, ReaderQueue and WriteTimeout must be positive"))
	}
	for i, c := range cfg.Channels {
		if c.MaxEntries == 0 {
			c.MaxEntries = DefaultMaxEntries
		}
		switch {
		case !wire.ValidChannel(c.Name):
			errs = append(errs, fmt.Errorf("publish: Config.Channels[%d].Name: %q, want 1..%d of [a-z0-9_-]", i, c.Name, wire.MaxChannelLen))
		case s.stores[c.Name] != nil:
			errs = append(errs, fmt.Errorf("publish: Config.Channels[%d].Name: %q given twice", i, c.Name))
		case c.Interval < 0:
			errs = append(errs, fmt.Errorf("publish: Config.Channels[%d].Interval: %v is negative", i, c.Interval))
		case c.MaxEntries < 0:
			errs = append(errs, fmt.Errorf("publish: Config.Channels[%d].MaxEntries: %d is negative", i, c.MaxEntries))
		default:
			st := newStore(c, s)
			s.stores[c.Name] = st
			s.order = append(s.order, st)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := removeStaleSocket(cfg.Path); err != nil {
		return nil, err
	}
	// The socket is created with mode 0600 at once: no window where
	// another user could connect.
	old := unix.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("publish: listen on %s: %w", cfg.Path, err)
	}
	if err := os.Chmod(cfg.Path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("publish: chmod %s: %w", cfg.Path, err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	s.log.Info("publish socket listening", "path", cfg.Path, "channels", s.names())
	return s, nil
}

// removeStaleSocket removes a socket left by a previous run at path.
func removeStaleSocket(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("publish: socket directory: %w", err)
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("publish: %s: %w", path, err)
	case fi.Mode()&os.ModeSocket == 0:
		return fmt.Errorf("publish: %s exists and is not a socket", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("publish: removing the stale socket %s: %w", path, err)
	}
	return nil
}

func (s *Server) names() []string {
	out := make([]string, len(s.order))
	for i, st := range s.order {
		out[i] = st.Name()
	}
	return out
}

// Stores returns the channels in configuration order, to hand to the
// stream as Source and Sink.
func (s *Server) Stores() []*Store { return s.order }

// Store returns the named channel, or nil.
func (s *Server) Store(name string) *Store { return s.stores[name] }

// Role is the unit's role as services see it: RoleActive while the
// stream watches the stores (it sends this unit's state), else
// RoleStandby.
func (s *Server) Role() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roleLocked()
}

func (s *Server) roleLocked() string {
	if s.active > 0 {
		return wire.RoleActive
	}
	return wire.RoleStandby
}

func (s *Server) watchStarted() { s.watchChanged(+1) }
func (s *Server) watchEnded()   { s.watchChanged(-1) }

func (s *Server) watchChanged(d int) {
	s.mu.Lock()
	before := s.roleLocked()
	s.active += d
	after := s.roleLocked()
	s.mu.Unlock()
	if before != after {
		s.log.Info("publish: role for services", "role", after)
		for _, st := range s.order {
			st.notifyAll(wire.Reply{Event: wire.EventRole, Role: after})
		}
	}
}

// Close stops serving, closes every connection and removes the socket.
// The entries are dropped with the server.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stopped)
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			select {
			case <-s.stopped:
				return
			default:
			}
			s.log.Error("publish: accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err := s.admit(c); err != nil {
			s.log.Warn("publish: connection refused", "err", err)
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_ = wire.WriteFrame(c, wire.Reply{Error: err.Error(), Field: "connection"})
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

// admit checks the peer's credentials and the connection limit.
func (s *Server) admit(c *net.UnixConn) error {
	uid, err := peerUID(c)
	if err != nil {
		return err
	}
	if uid != 0 && uid != uint32(os.Geteuid()) {
		return fmt.Errorf("uid %d may not publish state: root only", uid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("server closing")
	}
	if len(s.conns) >= s.cfg.MaxConns {
		return fmt.Errorf("%d connections already, at most %d", len(s.conns), s.cfg.MaxConns)
	}
	s.conns[c] = struct{}{}
	return nil
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, fmt.Errorf("peer credentials: %w", cerr)
	}
	return cred.Uid, nil
}

// serve is one connection's goroutine: requests and their replies, until
// a watch turns it into an event stream.
func (s *Server) serve(c *net.UnixConn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	for {
		body, err := wire.ReadFrame(c, wire.MaxFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("publish: bad frame, closing the connection", "err", err)
				s.reply(c, wire.Reply{Error: err.Error(), Field: "frame"})
			}
			return
		}
		req, err := wire.DecodeRequest(body)
		if err != nil {
			rep := wire.Reply{Error: err.Error()}
			if req != nil {
				rep.ID = req.ID
			}
			var fe *wire.FieldError
			if errors.As(err, &fe) {
				rep.Error, rep.Field = fe.Reason, fe.Field
			}
			if !s.reply(c, rep) {
				return
			}
			continue
		}
		st := s.stores[req.Channel]
		if st == nil {
			if !s.reply(c, wire.Reply{ID: req.ID, Field: "channel",
				Error: fmt.Sprintf("%q is not published on this unit (channels: %v)", req.Channel, s.names())}) {
				return
			}
			continue
		}
		if req.Op == wire.OpWatch {
			s.watch(c, req.ID, st)
			return
		}
		if !s.reply(c, s.handle(req, st)) {
			return
		}
	}
}

// handle runs one request other than watch.
func (s *Server) handle(req *wire.Request, st *Store) wire.Reply {
	rep := wire.Reply{ID: req.ID}
	var err error
	switch req.Op {
	case wire.OpUpsert:
		err = st.Upsert(req.Entries, time.Now())
	case wire.OpReplace:
		err = st.ReplaceAll(req.Entries, time.Now())
	case wire.OpDelete:
		st.Delete(req.Keys)
	case wire.OpFlush:
		st.Flush()
	case wire.OpGet:
		rep.Role, rep.Entries = s.Role(), st.Entries()
	}
	if err != nil {
		rep.Error, rep.Field = err.Error(), "entries"
	}
	return rep
}

// reply writes rep, split into frames joined by More when its entries do
// not fit one; false when the connection is unusable.
func (s *Server) reply(c net.Conn, rep wire.Reply) bool {
	chunks := wire.Chunks(rep.Entries)
	for i, part := range chunks {
		r := rep
		r.Entries, r.More = part, i < len(chunks)-1
		if s.cfg.WriteTimeout > 0 {
			_ = c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		}
		if err := wire.WriteFrame(c, r); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("publish: writing to a service", "err", err)
			}
			return false
		}
	}
	return true
}

// watch streams st's snapshot and changes, and role changes, to c until
// the service closes it or the server stops.
func (s *Server) watch(c *net.UnixConn, id uint64, st *Store) {
	r := &reader{limit: s.cfg.ReaderQueue, notify: make(chan struct{}, 1)}
	entries := st.subscribe(r)
	defer st.unsubscribe(r)
	if !s.reply(c, wire.Reply{ID: id, Event: wire.EventSnapshot, Role: s.Role(), Entries: entries}) {
		return
	}
	gone := make(chan struct{})
	go func() {
		// A watching service sends nothing more: anything (or EOF) ends it.
		defer close(gone)
		_, _ = c.Read(make([]byte, 1))
	}()
	for {
		select {
		case <-gone:
			return
		case <-s.stopped:
			return
		case <-r.notify:
		}
		evs, resnap := r.take()
		if resnap {
			s.log.Warn("publish: a watching service fell behind; sending it a new snapshot", "channel", st.Name())
			evs = []wire.Reply{{Event: wire.EventSnapshot, Role: s.Role(), Entries: st.resnapshot(r)}}
		}
		for _, ev := range evs {
			ev.ID = id
			if !s.reply(c, ev) {
				return
			}
		}
	}
}

// reader is a watching service's queue of events.
type reader struct {
	mu     sync.Mutex
	q      []wire.Reply
	resnap bool
	limit  int
	notify chan struct{}
}

func (r *reader) push(ev wire.Reply) {
	r.mu.Lock()
	if r.resnap {
		r.mu.Unlock()
		return
	}
	if len(r.q) >= r.limit {
		r.q, r.resnap = nil, true
	} else {
		r.q = append(r.q, ev)
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *reader) take() ([]wire.Reply, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, rs := r.q, r.resnap
	r.q = nil
	return q, rs
}

func (r *reader) reset() {
	r.mu.Lock()
	r.q, r.resnap = nil, false
	r.mu.Unlock()
}
