// Package netconf is tandem's NETCONF northbound: an RFC 6241 server
// over SSH (RFC 6242, subsystem "netconf") with the candidate and running
// datastores of core/store, confirmed commit 1.1, validate, rollback on
// error, XPath and subtree filters, with-defaults (RFC 6243),
// notifications of the HA event log (RFC 5277), ietf-netconf-monitoring
// with get-schema (RFC 6022), the YANG library (RFC 8525) and the rpcs
// of tandem-operations. Users, roles and the HA-role rules are those of
// northbound/service, shared with REST and gNMI.
package netconf

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
	"github.com/tandem-ha/tandem/northbound/service"
	yangfs "github.com/tandem-ha/tandem/yang"
)

// Namespaces of the protocol elements.
const (
	baseNS      = xmltree.NetconfNS
	notifNS     = "urn:ietf:params:xml:ns:netconf:notification:1.0"
	nmNotifNS   = "urn:ietf:params:xml:ns:netmod:notification"
	monNS       = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
	wdNS        = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
	yangLibNS   = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
	datastoreNS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
	opsModule   = service.Module
	systemNS    = "urn:tandem:yang:tandem-system"
)

var xmlLang = xml.Attr{Name: xml.Name{Local: "xml:lang"}, Value: "en"}

// Options configure a Server.
type Options struct {
	// Addr is the TCP listen address, such as ":830".
	Addr string
	// HostKeyFile holds the SSH host key; it is generated (Ed25519) when
	// missing.
	HostKeyFile string
	// MaxSessions bounds the concurrent NETCONF sessions (0: 64).
	MaxSessions int
	// IdleTimeout closes sessions that send nothing for this long and
	// have no subscription (0: 1 hour).
	IdleTimeout time.Duration
}

// Server is the NETCONF server. It implements daemon.Northbound.
type Server struct {
	opts   Options
	schema *xmltree.Schema
	log    *slog.Logger
	b      *service.Backend
	start  time.Time

	nextID   atomic.Uint32
	mu       sync.Mutex
	sessions map[uint32]*session
	addr     net.Addr
	ready    chan struct{}

	// cc is the confirmed commit this server made and who may end it.
	ccMu sync.Mutex
	cc   confirmed

	stats stats
}

// confirmed records the pending confirmed commit of a NETCONF session.
type confirmed struct {
	active  bool
	owner   uint32 // session that issued it
	persist string // persist token; "" when bound to the owner's session
}

// stats are the global counters of ietf-netconf-monitoring.
type stats struct {
	inBadHellos, inSessions, droppedSessions  atomic.Uint32
	inRPCs, inBadRPCs, outRPCErrors, outNotif atomic.Uint32
}

// New returns a server with the given options. It parses the embedded
// YANG modules, which cannot fail unless the build is broken.
func New(opts Options) (*Server, error) {
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 64
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = time.Hour
	}
	schema, err := xmltree.Load(yangfs.FS, "*.yang", "ietf/*.yang")
	if err != nil {
		return nil, fmt.Errorf("netconf: %w", err)
	}
	return &Server{opts: opts, schema: schema, sessions: map[uint32]*session{}, ready: make(chan struct{})}, nil
}

// Name names the API in logs.
func (s *Server) Name() string { return "netconf" }

// Addr returns the listening address once Serve listens (for tests that
// listen on port 0), or nil after ctx ends without listening.
func (s *Server) Addr(ctx context.Context) net.Addr {
	select {
	case <-s.ready:
		return s.addr
	case <-ctx.Done():
		return nil
	}
}

// Serve listens on Options.Addr and serves NETCONF sessions until ctx
// ends; then every session is closed (releasing its locks).
func (s *Server) Serve(ctx context.Context, b *service.Backend) error {
	s.b, s.start = b, time.Now()
	s.log = b.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "netconf")
	signer, err := loadHostKey(s.opts.HostKeyFile)
	if err != nil {
		return fmt.Errorf("netconf: %w", err)
	}
	cfg := &ssh.ServerConfig{
		ServerVersion: "SSH-2.0-tandem",
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			return s.login(c, func(src string) (auth.Principal, error) { return b.Auth.Password(c.User(), string(pw), src) })
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			return s.login(c, func(src string) (auth.Principal, error) { return b.Auth.PublicKey(c.User(), key, src) })
		},
	}
	cfg.AddHostKey(signer)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("netconf: %w", err)
	}
	s.addr = ln.Addr()
	close(s.ready)
	s.log.Info("NETCONF listening", "addr", ln.Addr().String(), "host_key", ssh.FingerprintSHA256(signer.PublicKey()))
	var wg sync.WaitGroup
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return fmt.Errorf("netconf: accept: %w", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.serveConn(ctx, conn, cfg) }()
	}
	s.mu.Lock()
	for _, ss := range s.sessions {
		ss.close()
	}
	s.mu.Unlock()
	wg.Wait()
	return nil
}

// login authenticates an SSH user with check and records the principal
// in the connection's permissions.
func (s *Server) login(c ssh.ConnMetadata, check func(source string) (auth.Principal, error)) (*ssh.Permissions, error) {
	src := hostOf(c.RemoteAddr())
	p, err := check(src)
	if err != nil {
		s.log.Info("NETCONF login refused", "user", c.User(), "source", src, "err", err)
		return nil, err
	}
	return &ssh.Permissions{Extensions: map[string]string{"user": p.User, "role": string(p.Role)}}, nil
}

func hostOf(a net.Addr) string {
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// serveConn runs the SSH handshake and serves the connection's session
// channels.
func (s *Server) serveConn(ctx context.Context, conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		s.log.Debug("SSH handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
		return
	}
	_ = conn.SetDeadline(time.Time{})
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	p := auth.Principal{User: sc.Permissions.Extensions["user"], Role: auth.Role(sc.Permissions.Extensions["role"])}
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels are served")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveChannel(ctx, sc, ch, creqs, p)
		}()
	}
	wg.Wait()
}

// serveChannel waits for the "netconf" subsystem request and runs a
// session on the channel.
func (s *Server) serveChannel(ctx context.Context, sc *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request, p auth.Principal) {
	defer ch.Close()
	for req := range reqs {
		if req.Type == "subsystem" && subsystemName(req.Payload) == "netconf" {
			_ = req.Reply(true, nil)
			go func() {
				for r := range reqs {
					_ = r.Reply(false, nil)
				}
			}()
			s.runSession(ctx, sc, ch, p)
			return
		}
		_ = req.Reply(false, nil)
	}
}

// subsystemName decodes the payload of a subsystem request (an SSH
// string).
func subsystemName(payload []byte) string {
	var msg struct{ Name string }
	if err := ssh.Unmarshal(payload, &msg); err != nil {
		return ""
	}
	return msg.Name
}

// runSession registers a session, serves it, and cleans up after it.
func (s *Server) runSession(ctx context.Context, sc *ssh.ServerConn, ch ssh.Channel, p auth.Principal) {
	s.mu.Lock()
	if len(s.sessions) >= s.opts.MaxSessions {
		s.mu.Unlock()
		s.stats.droppedSessions.Add(1)
		s.log.Warn("NETCONF session refused: too many sessions", "max", s.opts.MaxSessions, "user", p.User)
		return
	}
	id := s.nextID.Add(1)
	ss := newSession(s, id, sc, ch, p)
	s.sessions[id] = ss
	s.mu.Unlock()
	s.stats.inSessions.Add(1)
	s.log.Info("NETCONF session started", "session", id, "user", p.User, "role", p.Role, "source", hostOf(sc.RemoteAddr()))
	ss.run(ctx)
	s.endSession(ss)
	s.log.Info("NETCONF session ended", "session", id, "user", p.User)
}

// endSession releases what the session held: a confirmed commit it
// issued without persist is cancelled (RFC 6241 8.4.1), its locks are
// released and a candidate it locked and changed is discarded.
func (s *Server) endSession(ss *session) {
	s.ccMu.Lock()
	if s.cc.active && s.cc.owner == ss.id && s.cc.persist == "" {
		if _, info := s.b.Store.Running(); info.PendingConfirm {
			meta := service.Meta(ss.principal, "netconf", fmt.Sprintf("session %d ended before confirming its commit", ss.id))
			meta.Origin = "rollback"
			if _, err := s.b.Store.CancelConfirmed(ss.storeID, meta); err != nil {
				s.log.Error("cancelling the confirmed commit of an ended session failed", "session", ss.id, "err", err)
			}
		}
		s.cc = confirmed{}
	}
	s.ccMu.Unlock()
	s.b.Store.EndSession(ss.storeID)
	s.mu.Lock()
	delete(s.sessions, ss.id)
	s.mu.Unlock()
	close(ss.done)
}

// sessionOf maps a store session name to a NETCONF session id for
// lock-denied errors: 0 when another API holds the lock.
func (s *Server) sessionOf(storeID string) string {
	var id uint32
	if _, err := fmt.Sscanf(storeID, "netconf:%d", &id); err == nil {
		return strconv.FormatUint(uint64(id), 10)
	}
	return "0"
}

// session returns the live session with the given id.
func (s *Server) session(id uint32) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}
