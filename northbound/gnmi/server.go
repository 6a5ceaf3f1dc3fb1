package gnmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/tandem-ha/tandem/northbound/service"
)

// DefaultAddr is the gNMI port IANA assigned (RFC 9164 lists 9339).
const DefaultAddr = ":9339"

// Options configure a Server.
type Options struct {
	// Addr is the listen address, such as ":9339".
	Addr string
	// Target is an extra name the unit answers to as gNMI target,
	// besides its serial number (the state tree's target); empty for
	// none. Requests naming any other target get NOT_FOUND.
	Target string
}

// Server is the gNMI northbound: a daemon.Northbound.
type Server struct {
	opts Options
}

// New returns a gNMI server.
func New(opts Options) *Server { return &Server{opts: opts} }

// Name names the server in logs.
func (s *Server) Name() string { return "gnmi" }

// Serve listens on the configured address and serves b until ctx ends.
func (s *Server) Serve(ctx context.Context, b *service.Backend) error {
	lis, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("gnmi: listen %s: %w", s.opts.Addr, err)
	}
	return s.ServeListener(ctx, b, lis)
}

// ServeListener serves b on lis (which it closes) until ctx ends.
func (s *Server) ServeListener(ctx context.Context, b *service.Backend, lis net.Listener) error {
	if b.TLS == nil {
		lis.Close()
		return errors.New("gnmi: no TLS material (Backend.TLS); gNMI is served over TLS only")
	}
	log := b.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("northbound", "gnmi")
	svc := newService(b, s.opts.Target, log)
	g := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(b.TLS.Clone())),
		grpc.UnaryInterceptor(unaryAuth(b.Auth)),
		grpc.StreamInterceptor(streamAuth(b.Auth)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	gpb.RegisterGNMIServer(g, svc)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	removeTree := b.Tree.AddClient(svc.hub.publish)
	defer removeTree()
	svc.mirror.setClient(svc.hub.publish)
	if err := svc.mirror.refresh(); err != nil {
		lis.Close()
		return fmt.Errorf("gnmi: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.mirror.follow(ctx, func(err error) { log.Error("configuration mirror", "err", err) })
	}()
	go func() {
		<-ctx.Done()
		g.Stop()
	}()
	log.Info("gNMI listening", "addr", lis.Addr().String(), "target", svc.tree.target)
	err := g.Serve(lis)
	stopped := ctx.Err() != nil
	cancel()
	<-done
	if stopped || err == nil {
		return nil
	}
	return fmt.Errorf("gnmi: serve: %w", err)
}
