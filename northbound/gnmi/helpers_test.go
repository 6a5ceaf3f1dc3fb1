package gnmi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/gnmi"
	"github.com/tandem-ha/tandem/northbound/service"
)

// Serial is the test unit's serial number (its gNMI target); Alias its
// extra target name.
const (
	Serial = "TEST-GNMI-1"
	Alias  = "fw-test"
	Secret = "a-pre-shared-key-never-read"
)

// users of the test configuration: name -> role; each user's password is
// its name followed by "-pw".
var users = map[string]string{"alice": "admin", "olga": "operator", "rita": "read-only"}

// initialConfig is the test unit's first configuration.
func initialConfig(t testing.TB) string {
	t.Helper()
	var us []string
	for name, role := range users {
		h, err := auth.HashPassword(name + "-pw")
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, fmt.Sprintf(`{"name": %q, "config": {"name": %q, "role": %q, "password-hash": %q}}`, name, name, role, h))
	}
	return `{
  "tandem-ha:ha": {"config": {"mode": "standalone", "pre-shared-key": "` + Secret + `"}},
  "tandem-interfaces:interfaces": {"interface": [
    {"name": "X0", "config": {"name": "X0", "zone": "lan", "ipv4-address": ["192.0.2.1/24"]}},
    {"name": "X1", "config": {"name": "X1", "zone": "wan", "ipv4-address": ["198.51.100.1/24"]}}
  ]},
  "tandem-platform:platform": {"config": {"model": "lab"}},
  "tandem-system:system": {"users": {"user": [` + strings.Join(us, ",") + `]}}
}`
}

// unit is a gNMI server on loopback over a real datastore, state tree,
// authenticator and TLS material.
type unit struct {
	addr    string
	backend *service.Backend
	tree    *telemetry.Tree
	store   *store.Store
	certs   *x509.CertPool
	// certFile is the server's certificate, for gnmic --tls-ca.
	certFile string
	standby  atomic.Bool
}

// startUnit starts a gNMI server for one test.
func startUnit(t testing.TB) *unit {
	t.Helper()
	dir := t.TempDir()
	initial, err := model.Decode([]byte(initialConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "config.db"), store.Options{Validate: validate.StoreValidator, Initial: initial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := auth.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	running, _ := st.Running()
	a.Configure(running)
	tlsConf, err := auth.TLS(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(auth.CertFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	u := &unit{tree: telemetry.NewTree(Serial), store: st, certs: x509.NewCertPool(), certFile: auth.CertFile(dir)}
	u.certs.AppendCertsFromPEM(pem)
	u.backend = &service.Backend{
		Store: st, Tree: u.tree, Auth: a, TLS: tlsConf,
		MayConfigure: func() error {
			if u.standby.Load() {
				return errors.New("this unit (" + Serial + ") is the standby: change the configuration on the active unit PEER-1, which syncs it here (CFG-1)")
			}
			return nil
		},
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gnmi.New(gnmi.Options{Target: Alias}).ServeListener(ctx, u.backend, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	})
	u.set(t, "/ha/state/role", "standalone")
	u.set(t, "/ha/state/quality", uint8(100))
	u.set(t, "/interfaces/interface[name=X0]/state/oper-status", "up")
	u.set(t, "/interfaces/interface[name=X0]/state/zone", "lan")
	return u
}

// set writes a state leaf as the daemon would.
func (u *unit) set(t testing.TB, path string, v any) {
	t.Helper()
	if err := u.tree.Update(path, v); err != nil {
		t.Fatal(err)
	}
}

// creds are username/password metadata, as gnmic sends them.
type creds struct{ user, password string }

func (c creds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"username": c.user, "password": c.password}, nil
}
func (creds) RequireTransportSecurity() bool { return true }

// client connects as user (password user-pw), or with no credentials
// when user is empty.
func (u *unit) client(t testing.TB, user string) gpb.GNMIClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: u.certs, ServerName: "localhost"}))}
	if user != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(creds{user, user + "-pw"}))
	}
	conn, err := grpc.NewClient(u.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return gpb.NewGNMIClient(conn)
}

// ctx is a context for one test step.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// path parses a gNMI path from its string form.
func path(t testing.TB, s string) *gpb.Path {
	t.Helper()
	p, err := model.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantCode checks that err is a gRPC status with code c and a message
// containing every one of parts.
func wantCode(t testing.TB, err error, c codes.Code, parts ...string) {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != c {
		t.Fatalf("got error %v, want code %v", err, c)
	}
	for _, p := range parts {
		if !strings.Contains(st.Message(), p) {
			t.Errorf("error %q does not mention %q", st.Message(), p)
		}
	}
}

// jsonIETF is a JSON_IETF TypedValue.
func jsonIETF(s string) *gpb.TypedValue {
	return &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(s)}}
}

// newToken makes a bearer token and its hash.
func newToken(t testing.TB) (token, hash string) {
	t.Helper()
	token, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return token, hash
}

// reconfigureAuth gives the authenticator the running users, as the
// daemon does after every revision.
func (u *unit) reconfigureAuth(t testing.TB) {
	t.Helper()
	running, _ := u.store.Running()
	u.backend.Auth.Configure(running)
}

// tokenCreds is an authorization: Bearer header, as gnmic --token sends.
type tokenCreds string

func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(c)}, nil
}
func (tokenCreds) RequireTransportSecurity() bool { return true }

// tokenClient connects with a bearer token.
func (u *unit) tokenClient(t testing.TB, token string) gpb.GNMIClient {
	return u.clientWith(t, tokenCreds(token))
}

// clientWith connects with the given per-RPC credentials.
func (u *unit) clientWith(t testing.TB, c credentials.PerRPCCredentials) gpb.GNMIClient {
	t.Helper()
	conn, err := grpc.NewClient(u.addr,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: u.certs, ServerName: "localhost"})),
		grpc.WithPerRPCCredentials(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return gpb.NewGNMIClient(conn)
}
