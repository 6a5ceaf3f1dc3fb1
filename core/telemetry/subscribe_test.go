package telemetry

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/gnmi/subscribe"
	"google.golang.org/grpc/peer"
)

// stream is an in-process gNMI Subscribe stream, as lemming's local
// client builds one.
type stream struct {
	gpb.GNMI_SubscribeServer
	ctx  context.Context
	reqs chan *gpb.SubscribeRequest
	resp chan *gpb.SubscribeResponse
}

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) Send(r *gpb.SubscribeResponse) error {
	select {
	case s.resp <- r:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *stream) Recv() (*gpb.SubscribeRequest, error) {
	select {
	case r := <-s.reqs:
		return r, nil
	case <-s.ctx.Done():
		return nil, io.EOF
	}
}

// TestGNMISubscribeFromTree serves a gNMI STREAM subscription with
// openconfig/gnmi's subscribe package straight from the tree's cache:
// the initial values, sync, then on-change updates and deletes.
func TestGNMISubscribeFromTree(t *testing.T) {
	tr := NewTree("unit-a")
	mustUpdate(t, tr, "/ha/state/role", "standby")
	mustUpdate(t, tr, "/system/plugins/plugin[name=lab]/state/status", "running")

	srv, err := subscribe.NewServer(tr.Cache())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.AddClient(srv.Update)()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := &stream{
		ctx:  peer.NewContext(ctx, &peer.Peer{}),
		reqs: make(chan *gpb.SubscribeRequest, 1),
		resp: make(chan *gpb.SubscribeResponse, 16),
	}
	st.reqs <- &gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
		Prefix:       &gpb.Path{Target: "unit-a"},
		Mode:         gpb.SubscriptionList_STREAM,
		Subscription: []*gpb.Subscription{{Path: &gpb.Path{Elem: []*gpb.PathElem{{Name: "ha"}}}, Mode: gpb.SubscriptionMode_ON_CHANGE}},
	}}}
	done := make(chan error, 1)
	go func() { done <- srv.Subscribe(st) }()

	next := func() *gpb.SubscribeResponse {
		t.Helper()
		select {
		case r := <-st.resp:
			return r
		case err := <-done:
			t.Fatalf("Subscribe ended: %v", err)
		case <-ctx.Done():
			t.Fatal("no response")
		}
		return nil
	}
	leafOf := func(r *gpb.SubscribeResponse) (string, string) {
		n := r.GetUpdate()
		if len(n.GetUpdate()) == 1 {
			return "/" + strings.Join(pathNames(n.GetUpdate()[0].GetPath()), "/"), n.GetUpdate()[0].GetVal().GetStringVal()
		}
		if len(n.GetDelete()) == 1 {
			return "/" + strings.Join(pathNames(n.GetDelete()[0]), "/"), "<deleted>"
		}
		t.Fatalf("unexpected response %v", r)
		return "", ""
	}

	if p, v := leafOf(next()); p != "/ha/state/role" || v != "standby" {
		t.Errorf("initial = %s %s", p, v)
	}
	if r := next(); !r.GetSyncResponse() {
		t.Fatalf("want sync_response, got %v", r)
	}
	mustUpdate(t, tr, "/system/plugins/plugin[name=lab]/state/status", "failed") // not subscribed
	mustUpdate(t, tr, "/ha/state/role", "active")
	if p, v := leafOf(next()); p != "/ha/state/role" || v != "active" {
		t.Errorf("on change = %s %s", p, v)
	}
	if err := tr.Delete("/ha"); err != nil {
		t.Fatal(err)
	}
	if p, v := leafOf(next()); p != "/ha/state/role" || v != "<deleted>" {
		t.Errorf("delete = %s %s", p, v)
	}
	cancel()
	<-done
}
