package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/vishvananda/netns"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/tandem-ha/tandem/northbound/auth"
)

// inNamespace returns a dialer whose sockets live in network namespace ns
// (the lab's client host), so the test reaches the units as a management
// station on the LAN does.
func inNamespace(ns string) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return nil, err
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			return nil, err
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			return nil, err
		}
		defer netns.Set(orig)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

type gnmiPassword struct{ user, password string }

func (c gnmiPassword) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"username": c.user, "password": c.password}, nil
}
func (gnmiPassword) RequireTransportSecurity() bool { return true }

// gnmiClient connects from the client host to unitName's LAN monitoring
// address on the gNMI port, trusting the unit's own certificate and
// logging in with its initial admin password.
func (l *pairLab) gnmiClient(unitName, addr string) gpb.GNMIClient {
	l.t.Helper()
	data := filepath.Join(l.dir, unitName)
	pem, err := os.ReadFile(auth.CertFile(data))
	if err != nil {
		l.t.Fatal(err)
	}
	pw, err := os.ReadFile(filepath.Join(data, auth.BootstrapFile))
	if err != nil {
		l.t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithContextDialer(inNamespace(l.name+"-client")),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost"})),
		grpc.WithPerRPCCredentials(gnmiPassword{auth.BootstrapUser, strings.TrimSpace(string(pw))}))
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { conn.Close() })
	return gpb.NewGNMIClient(conn)
}

// gnmiStream is an open STREAM subscription with its notifications.
type gnmiStream struct {
	updates chan *gpb.Notification
	ended   chan error
}

// subscribeOnChange opens a STREAM ON_CHANGE subscription to path and
// waits for its sync_response.
func subscribeOnChange(t *testing.T, c gpb.GNMIClient, path string) *gnmiStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var sub gpb.GNMI_SubscribeClient
	var err error
	deadline := time.Now().Add(15 * time.Second)
	for {
		// The server starts with the daemon: retry until it listens.
		if sub, err = c.Subscribe(ctx); err == nil {
			err = sub.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
				Mode: gpb.SubscriptionList_STREAM, Encoding: gpb.Encoding_JSON_IETF,
				Subscription: []*gpb.Subscription{{Path: gpbPath(t, path), Mode: gpb.SubscriptionMode_ON_CHANGE}},
			}}})
		}
		var first *gpb.SubscribeResponse
		if err == nil {
			first, err = sub.Recv()
		}
		if err == nil {
			s := &gnmiStream{updates: make(chan *gpb.Notification, 100), ended: make(chan error, 1)}
			go func() {
				r := first
				for {
					if !r.GetSyncResponse() && r.GetUpdate() != nil {
						s.updates <- r.GetUpdate()
					}
					if r, err = sub.Recv(); err != nil {
						s.ended <- err
						return
					}
				}
			}()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribe %s: %v", path, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func gpbPath(t *testing.T, s string) *gpb.Path {
	t.Helper()
	var elems []*gpb.PathElem
	for _, part := range strings.Split(strings.Trim(s, "/"), "/") {
		elems = append(elems, &gpb.PathElem{Name: part})
	}
	return &gpb.Path{Elem: elems}
}

// nextValue waits for the next update of the stream and returns its
// JSON value.
func (s *gnmiStream) nextValue(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case n := <-s.updates:
		if len(n.GetUpdate()) != 1 {
			t.Fatalf("notification without one update: %v", n)
		}
		return string(n.GetUpdate()[0].GetVal().GetJsonIetfVal())
	case err := <-s.ended:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(within):
		t.Fatalf("no update within %v", within)
	}
	return ""
}

// SPEC: DET-7
// SPEC: CFG-1
// A collector subscribes ON_CHANGE over gNMI to the HA role of both units
// of a lab pair from the LAN. The standby refuses a gNMI Set naming the
// active; a Set on the active reaches the standby's configuration by
// config sync and its subscribers. Then the active is killed (kill -9,
// ports down) and the survivor's stream delivers the
// new role, active. (fw1's stream just goes silent: with its ports down
// not even a reset reaches the client.)
func TestGNMIRoleChangeOnKill(t *testing.T) {
	l := startPair(t)
	c1 := l.gnmiClient("fw1", "192.0.2.2:9339")
	c2 := l.gnmiClient("fw2", "192.0.2.3:9339")
	s1 := subscribeOnChange(t, c1, "/ha/state/role")
	s2 := subscribeOnChange(t, c2, "/ha/state/role")
	if v := s1.nextValue(t, 5*time.Second); v != `"active"` {
		t.Fatalf("fw1 role %s, want active", v)
	}
	if v := s2.nextValue(t, 5*time.Second); v != `"standby"` {
		t.Fatalf("fw2 role %s, want standby", v)
	}

	set := &gpb.SetRequest{Update: []*gpb.Update{{
		Path: &gpb.Path{Elem: []*gpb.PathElem{{Name: "interfaces"}, {Name: "interface", Key: map[string]string{"name": "X0"}}, {Name: "config"}, {Name: "description"}}},
		Val:  &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(`"lan via gnmi"`)}},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c2.Set(ctx, set)
	if st, _ := status.FromError(err); err == nil || st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "LAB-FW1") {
		t.Errorf("Set on the standby: %v, want PERMISSION_DENIED naming the active LAB-FW1", err)
	}
	desc := subscribeOnChange(t, c2, "/interfaces/interface/config/description")
	if _, err := c1.Set(ctx, set); err != nil {
		t.Fatalf("Set on the active: %v", err)
	}
	if v := desc.nextValue(t, 10*time.Second); v != `"lan via gnmi"` {
		t.Errorf("standby's description after config sync: %s", v)
	}

	start := time.Now()
	if out, err := labCtl(t, l.name, l.dir, "kill", "fw1"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	for {
		v := s2.nextValue(t, 10*time.Second)
		if v == `"active"` {
			break
		}
		t.Logf("fw2 role on the way: %s", v)
	}
	t.Logf("gNMI delivered fw2's role change to active %s after the kill of fw1 (100 ms x 3 heartbeats)", time.Since(start).Round(time.Millisecond))
}
