package gnmi

import (
	"context"
	"errors"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tandem-ha/tandem/northbound/auth"
)

// Metadata keys of the credentials: gnmic's --username/--password send
// "username" and "password", its --token sends "authorization".
const (
	mdUser          = "username"
	mdPassword      = "password"
	mdAuthorization = "authorization"
)

type principalKey struct{}

// principalOf returns the caller authenticated by the interceptors.
func principalOf(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// authenticate checks the credentials in ctx's metadata against a.
func authenticate(ctx context.Context, a *auth.Authenticator) (context.Context, error) {
	if a == nil {
		return nil, status.Error(codes.Internal, "gNMI: no authenticator configured")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	source := sourceIP(ctx)
	var (
		p   auth.Principal
		err error
	)
	switch user, authz := first(mdUser), first(mdAuthorization); {
	case user != "":
		p, err = a.Password(user, first(mdPassword), source)
	case authz != "":
		scheme, token, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "bearer") || token == "" {
			return nil, status.Error(codes.Unauthenticated, `authorization metadata: want "Bearer <token>"`)
		}
		p, err = a.Token(strings.TrimSpace(token), source)
	default:
		return nil, status.Error(codes.Unauthenticated, "no credentials: send username and password metadata (gnmic -u/-p) or authorization: Bearer <token>")
	}
	if err != nil {
		var limited *auth.RateLimitedError
		if errors.As(err, &limited) {
			return nil, status.Error(codes.ResourceExhausted, err.Error())
		}
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// sourceIP is the caller's address, for the failed-login limit.
func sourceIP(ctx context.Context) string {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(pr.Addr.String())
	if err != nil {
		return pr.Addr.String()
	}
	return host
}

// unaryAuth authenticates every unary call.
func unaryAuth(a *auth.Authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authenticate(ctx, a)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// streamAuth authenticates every stream.
func streamAuth(a *auth.Authenticator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authenticate(ss.Context(), a)
		if err != nil {
			return err
		}
		return handler(srv, &authedStream{ServerStream: ss, ctx: ctx})
	}
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authedStream) Context() context.Context { return s.ctx }
