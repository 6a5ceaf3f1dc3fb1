// Package rest serves tandem's REST API over HTTPS on labstack/echo: a
// RESTCONF (RFC 8040) data API for every YANG node of the running and
// candidate datastores and the state tree, the tandem-operations rpcs,
// server-sent event streams of the HA event log and of state changes,
// the YANG library with downloadable sources, and an OpenAPI 3 document
// generated from the YANG. Callers authenticate with HTTP basic or bearer
// tokens (northbound/auth); every change is committed atomically with the
// caller as author and origin rest (the audit trail of the revision
// history); policy (user roles, the standby's refusals) is the backend's.
package rest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
	"github.com/tandem-ha/tandem/northbound/service"
)

// Media types (RFC 8040, RFC 8072).
const (
	mediaData      = "application/yang-data+json"
	mediaPatch     = "application/yang-patch+json"
	mediaYANG      = "application/yang"
	mediaEventSSE  = "text/event-stream"
	defaultMaxBody = 4 << 20
)

// Options tune a Server.
type Options struct {
	// MaxBody bounds request bodies (default 4 MiB); larger ones get 413.
	MaxBody int64
	// Logger receives request errors; default the backend's.
	Logger *slog.Logger
}

// Server is the REST API of one unit.
type Server struct {
	b      *service.Backend
	schema *schema.Schema
	echo   *echo.Echo
	opts   Options
	log    *slog.Logger
	cache  encodedCache

	apiOnce sync.Once
	apiDoc  []byte
	apiErr  error
}

// New returns a server for b; b.Auth must be set.
func New(b *service.Backend, opts Options) (*Server, error) {
	if b.Auth == nil {
		return nil, errors.New("rest: the backend has no authenticator")
	}
	sch, err := schema.Load()
	if err != nil {
		return nil, err
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = defaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = b.Logger
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{b: b, schema: sch, opts: opts, log: opts.Logger.With("northbound", "rest")}
	s.echo = s.routes()
	return s, nil
}

// Handler returns the HTTP handler (for tests and custom listeners).
func (s *Server) Handler() http.Handler { return s.echo }

// Routes lists the method and path of every route, as echo registered
// them (for the check of the OpenAPI document).
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler
	// The failed-login limit counts the TCP peer: headers such as
	// X-Forwarded-For are the client's to forge.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(s.limitBody, s.logErrors)

	e.GET("/.well-known/host-meta", s.hostMeta)
	api := e.Group("/restconf", s.authenticate)
	api.GET("", s.root)
	api.GET("/yang-library-version", s.libraryVersion)
	api.GET("/yang/:module", s.yangSource)
	api.GET("/openapi.json", s.openAPI)
	for _, p := range []string{"/data", "/data/*", "/ds/:datastore", "/ds/:datastore/*"} {
		api.GET(p, s.get)
		api.HEAD(p, s.get)
		api.OPTIONS(p, s.options)
		api.PUT(p, s.put)
		api.POST(p, s.post)
		api.PATCH(p, s.patch)
		api.DELETE(p, s.delete)
	}
	api.GET("/operations", s.listOperations)
	api.POST("/operations/:operation", s.operate)
	api.GET("/streams", s.listStreams)
	api.GET("/streams/events", s.eventStream)
	api.GET("/streams/state", s.stateStream)

	ext := e.Group(ExtensionPrefix, s.authenticate)
	ext.GET("/status", s.status)
	ext.GET("/ha", s.haStatus)
	ext.GET("/history", s.history)
	ext.GET("/revisions/:id", s.revision)
	ext.GET("/diff", s.diff)
	ext.GET("/events", s.events)
	return e
}

// ExtensionPrefix holds tandem's resources that RESTCONF has no place
// for: the unit summary, the HA pair status, the revision history and
// diffs, the event log as a list (tandemctl uses them remotely).
const ExtensionPrefix = "/tandem/v1"

// limitBody bounds request bodies (413 beyond Options.MaxBody).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > s.opts.MaxBody {
			return writeError(c, newError(http.StatusRequestEntityTooLarge, "too-big", "", "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, s.opts.MaxBody))
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, s.opts.MaxBody)
		return next(c)
	}
}

// logErrors logs server-side failures.
func (s *Server) logErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err != nil {
			if e := toError(err, ""); e.Status >= 500 {
				s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			}
		}
		return err
	}
}

// authenticate admits requests with HTTP basic credentials or a bearer
// token of a configured user; 401 with a challenge otherwise, 429 with
// Retry-After after too many failures from the address.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		src := c.RealIP()
		var (
			p   auth.Principal
			err error
		)
		h := r.Header.Get("Authorization")
		switch scheme, cred, _ := strings.Cut(h, " "); {
		case h == "":
			e := newError(http.StatusUnauthorized, "access-denied", "", "authentication required: send HTTP basic credentials or a bearer token")
			e.Header = challenge()
			return writeError(c, e)
		case strings.EqualFold(scheme, "basic"):
			user, pw, ok := r.BasicAuth()
			if !ok {
				e := newError(http.StatusUnauthorized, "access-denied", "", "malformed basic credentials")
				e.Header = challenge()
				return writeError(c, e)
			}
			p, err = s.b.Auth.Password(user, pw, src)
		case strings.EqualFold(scheme, "bearer"):
			p, err = s.b.Auth.Token(strings.TrimSpace(cred), src)
		default:
			e := newError(http.StatusUnauthorized, "access-denied", "", "authorization scheme %q: use Basic or Bearer", scheme)
			e.Header = challenge()
			return writeError(c, e)
		}
		if err != nil {
			return writeError(c, toError(err, ""))
		}
		c.Set("principal", p)
		return next(c)
	}
}

// principal is the authenticated caller of c.
func principal(c echo.Context) auth.Principal {
	p, _ := c.Get("principal").(auth.Principal)
	return p
}

// session is the caller's datastore session: one candidate session per
// user, shared by that user's requests.
func session(c echo.Context) string { return "rest:" + principal(c).User }

// meta is the revision metadata of a change made by c.
func meta(c echo.Context, comment string) store.Meta {
	return service.Meta(principal(c), store.OriginREST, comment)
}

// Northbound runs the REST API in tandemd.
type Northbound struct {
	// Addr is the listen address, such as ":443".
	Addr string
	// Options tune the server.
	Options Options
}

// Name names the API in logs.
func (n *Northbound) Name() string { return "rest" }

// Serve serves HTTPS on n.Addr with the backend's certificate until ctx
// ends.
func (n *Northbound) Serve(ctx context.Context, b *service.Backend) error {
	s, err := New(b, n.Options)
	if err != nil {
		return err
	}
	if b.TLS == nil {
		return errors.New("rest: the backend has no TLS certificate")
	}
	ln, err := net.Listen("tcp", n.Addr)
	if err != nil {
		return fmt.Errorf("rest: %w", err)
	}
	return s.Serve(ctx, tls.NewListener(ln, b.TLS.Clone()))
}

// Serve serves on ln (already TLS, or plain for tests) until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.log.Info("REST API listening", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
