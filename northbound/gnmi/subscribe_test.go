package gnmi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/prototext"
)

// stream is a client's Subscribe call with its responses on a channel.
type stream struct {
	t    *testing.T
	c    gpb.GNMI_SubscribeClient
	resp chan *gpb.SubscribeResponse
	err  chan error
}

// subscribe opens a Subscribe call as rita (read-only) and sends list.
func (u *unit) subscribe(t *testing.T, list *gpb.SubscriptionList) *stream {
	t.Helper()
	cctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := u.client(t, "rita").Subscribe(cctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: list}}); err != nil {
		t.Fatal(err)
	}
	s := &stream{t: t, c: c, resp: make(chan *gpb.SubscribeResponse, 1000), err: make(chan error, 1)}
	go func() {
		for {
			r, err := c.Recv()
			if err != nil {
				s.err <- err
				return
			}
			s.resp <- r
		}
	}()
	return s
}

// next returns the next response, or nil when none comes within d.
func (s *stream) next(d time.Duration) *gpb.SubscribeResponse {
	s.t.Helper()
	select {
	case r := <-s.resp:
		return r
	case err := <-s.err:
		s.err <- err
		select { // responses received before the end come first
		case r := <-s.resp:
			return r
		default:
		}
		s.t.Fatalf("stream ended: %v", err)
	case <-time.After(d):
	}
	return nil
}

// leafOf returns the path and value (or "deleted") of a one-leaf
// notification.
func leafOf(r *gpb.SubscribeResponse) (string, string) {
	n := r.GetUpdate()
	switch {
	case len(n.GetUpdate()) == 1:
		return pathString(n.GetUpdate()[0].GetPath()), valueString(n.GetUpdate()[0].GetVal())
	case len(n.GetDelete()) == 1:
		return pathString(n.GetDelete()[0]), "deleted"
	}
	return "", ""
}

// collect reads responses until sync_response and returns the leaves.
func (s *stream) untilSync() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for {
		r := s.next(5 * time.Second)
		if r == nil {
			s.t.Fatal("no sync_response within 5 s")
		}
		if r.GetSyncResponse() {
			return out
		}
		p, v := leafOf(r)
		out[p] = v
	}
}

// expect waits up to 5 s for a notification of leaf p and returns its
// value ("deleted" for a delete), skipping other leaves.
func (s *stream) expect(p string) string {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r := s.next(time.Until(deadline))
		if r == nil {
			break
		}
		if got, v := leafOf(r); got == p {
			return v
		}
	}
	s.t.Fatalf("no notification for %s within 5 s", p)
	return ""
}

// quiet checks that nothing arrives for d.
func (s *stream) quiet(d time.Duration) {
	s.t.Helper()
	if r := s.next(d); r != nil {
		s.t.Errorf("unexpected %s", prototext.Format(r))
	}
}

func subList(mode gpb.SubscriptionList_Mode, subs ...*gpb.Subscription) *gpb.SubscriptionList {
	return &gpb.SubscriptionList{Mode: mode, Encoding: gpb.Encoding_PROTO, Subscription: subs}
}

const (
	role       = "/ha/state/role"
	operStatus = "/interfaces/interface[name=X0]/state/oper-status"
)

// ONCE sends the current values, sync_response and ends; with
// updates_only just sync_response.
func TestSubscribeOnce(t *testing.T) {
	u := startUnit(t)
	s := u.subscribe(t, subList(gpb.SubscriptionList_ONCE, &gpb.Subscription{Path: path(t, "/ha/state")}))
	got := s.untilSync()
	if got[role] != "standalone" || got["/ha/state/quality"] == "" || len(got) != 2 {
		t.Errorf("ONCE /ha/state: %v", got)
	}
	if err := <-s.err; !errors.Is(err, io.EOF) {
		t.Errorf("after ONCE: %v, want the end of the stream", err)
	}
	l := subList(gpb.SubscriptionList_ONCE, &gpb.Subscription{Path: path(t, "/ha/state")})
	l.UpdatesOnly = true
	if got := u.subscribe(t, l).untilSync(); len(got) != 0 {
		t.Errorf("ONCE updates_only: %v", got)
	}
}

// POLL answers each poll with the values of that moment.
func TestSubscribePoll(t *testing.T) {
	u := startUnit(t)
	s := u.subscribe(t, subList(gpb.SubscriptionList_POLL, &gpb.Subscription{Path: path(t, role)}))
	if got := s.untilSync(); got[role] != "standalone" {
		t.Fatalf("POLL initial: %v", got)
	}
	u.set(t, role, "active")
	s.quiet(200 * time.Millisecond) // nothing until polled
	if err := s.c.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Poll{Poll: &gpb.Poll{}}}); err != nil {
		t.Fatal(err)
	}
	if got := s.untilSync(); got[role] != "active" {
		t.Errorf("POLL after change: %v", got)
	}
}

// STREAM on change: initial values, sync_response, then every change and
// delete of the state tree and of the configuration (through Set) as it
// happens. TARGET_DEFINED is on change.
func TestSubscribeStreamOnChange(t *testing.T) {
	u := startUnit(t)
	s := u.subscribe(t, subList(gpb.SubscriptionList_STREAM,
		&gpb.Subscription{Path: path(t, "/interfaces/interface/state"), Mode: gpb.SubscriptionMode_ON_CHANGE},
		&gpb.Subscription{Path: path(t, "/ha/state/role"), Mode: gpb.SubscriptionMode_TARGET_DEFINED},
		&gpb.Subscription{Path: path(t, "/interfaces/interface[name=X0]/config/description"), Mode: gpb.SubscriptionMode_ON_CHANGE},
	))
	if got := s.untilSync(); got[operStatus] != "up" || got[role] == "" {
		t.Fatalf("initial: %v", got)
	}
	u.set(t, operStatus, "down")
	if v := s.expect(operStatus); v != "down" {
		t.Errorf("oper-operStatus: %s", v)
	}
	u.set(t, role, "active")
	if v := s.expect(role); v != "active" {
		t.Errorf("role: %s", v)
	}
	if err := u.tree.Delete("/interfaces/interface[name=X0]"); err != nil {
		t.Fatal(err)
	}
	if v := s.expect(operStatus); v != "deleted" {
		t.Errorf("after delete: %s", v)
	}
	c := u.client(t, "alice")
	desc := "/interfaces/interface[name=X0]/config/description"
	if _, err := c.Set(ctx(t), &gpb.SetRequest{Update: []*gpb.Update{{Path: path(t, desc), Val: jsonIETF(`"uplink"`)}}}); err != nil {
		t.Fatal(err)
	}
	if v := s.expect(desc); v != "uplink" {
		t.Errorf("config change: %s", v)
	}
	if _, err := c.Set(ctx(t), &gpb.SetRequest{Delete: []*gpb.Path{path(t, desc)}}); err != nil {
		t.Fatal(err)
	}
	if v := s.expect(desc); v != "deleted" {
		t.Errorf("config delete: %s", v)
	}
	// A value written again unchanged is no change.
	u.set(t, role, "active")
	s.quiet(200 * time.Millisecond)
}

// updates_only skips the initial values; heartbeat_interval re-sends an
// on-change leaf that did not change.
func TestSubscribeUpdatesOnlyAndHeartbeat(t *testing.T) {
	u := startUnit(t)
	l := subList(gpb.SubscriptionList_STREAM, &gpb.Subscription{Path: path(t, role), Mode: gpb.SubscriptionMode_ON_CHANGE, HeartbeatInterval: uint64(200 * time.Millisecond)})
	l.UpdatesOnly = true
	s := u.subscribe(t, l)
	if got := s.untilSync(); len(got) != 0 {
		t.Errorf("updates_only sent %v before sync", got)
	}
	for i := 0; i < 2; i++ {
		if v := s.expect(role); v != "standalone" {
			t.Errorf("heartbeat %d: %s", i, v)
		}
	}
}

// SAMPLE sends every leaf at each sample_interval; with
// suppress_redundant only what changed (and deletes), plus everything
// once per heartbeat_interval.
func TestSubscribeSample(t *testing.T) {
	u := startUnit(t)
	iv := uint64(100 * time.Millisecond)
	s := u.subscribe(t, subList(gpb.SubscriptionList_STREAM, &gpb.Subscription{Path: path(t, "/ha/state/quality"), Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: iv}))
	s.untilSync()
	for i := 0; i < 3; i++ {
		if v := s.expect("/ha/state/quality"); v != "100" {
			t.Errorf("sample %d: %s", i, v)
		}
	}

	u2 := startUnit(t)
	s2 := u2.subscribe(t, subList(gpb.SubscriptionList_STREAM,
		&gpb.Subscription{Path: path(t, "/interfaces/interface/state"), Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: iv, SuppressRedundant: true}))
	if got := s2.untilSync(); got[operStatus] != "up" {
		t.Fatalf("initial: %v", got)
	}
	s2.quiet(350 * time.Millisecond) // three samples, nothing changed
	u2.set(t, operStatus, "down")
	if v := s2.expect(operStatus); v != "down" {
		t.Errorf("changed: %s", v)
	}
	if err := u2.tree.Delete("/interfaces/interface[name=X0]/state/oper-status"); err != nil {
		t.Fatal(err)
	}
	if v := s2.expect(operStatus); v != "deleted" {
		t.Errorf("gone: %s", v)
	}

	u3 := startUnit(t)
	s3 := u3.subscribe(t, subList(gpb.SubscriptionList_STREAM, &gpb.Subscription{Path: path(t, role), Mode: gpb.SubscriptionMode_SAMPLE,
		SampleInterval: iv, SuppressRedundant: true, HeartbeatInterval: uint64(400 * time.Millisecond)}))
	s3.untilSync()
	start := time.Now()
	if v := s3.expect(role); v != "standalone" {
		t.Errorf("heartbeat: %s", v)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("suppressed sample sent after %v, before the 400 ms heartbeat", d)
	}
}

// Bad subscriptions are refused with the field and the reason.
func TestSubscribeErrors(t *testing.T) {
	u := startUnit(t)
	for _, tc := range []struct {
		name string
		list *gpb.SubscriptionList
		code codes.Code
		msg  string
	}{
		{"sample too fast", subList(gpb.SubscriptionList_STREAM, &gpb.Subscription{Path: path(t, role), Mode: gpb.SubscriptionMode_SAMPLE, SampleInterval: uint64(time.Millisecond)}), codes.InvalidArgument, "sample_interval"},
		{"heartbeat too fast", subList(gpb.SubscriptionList_STREAM, &gpb.Subscription{Path: path(t, role), HeartbeatInterval: 5}), codes.InvalidArgument, "heartbeat_interval"},
		{"other target", &gpb.SubscriptionList{Prefix: &gpb.Path{Target: "elsewhere"}, Subscription: []*gpb.Subscription{{Path: path(t, role)}}}, codes.NotFound, "elsewhere"},
		{"unknown path", subList(gpb.SubscriptionList_ONCE, &gpb.Subscription{Path: path(t, "/ha/state/colour")}), codes.NotFound, "colour"},
		{"no path", subList(gpb.SubscriptionList_ONCE), codes.InvalidArgument, "no subscription"},
		{"bytes", &gpb.SubscriptionList{Encoding: gpb.Encoding_BYTES, Subscription: []*gpb.Subscription{{Path: path(t, role)}}}, codes.Unimplemented, "BYTES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := u.subscribe(t, tc.list)
			select {
			case err := <-s.err:
				wantCode(t, err, tc.code, tc.msg)
			case r := <-s.resp:
				t.Fatalf("got %v, want an error", r)
			case <-time.After(5 * time.Second):
				t.Fatal("no error within 5 s")
			}
		})
	}
}

// valueString renders a scalar TypedValue's value.
func valueString(tv *gpb.TypedValue) string {
	switch v := tv.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		return v.StringVal
	case *gpb.TypedValue_UintVal:
		return fmt.Sprint(v.UintVal)
	case *gpb.TypedValue_IntVal:
		return fmt.Sprint(v.IntVal)
	case *gpb.TypedValue_BoolVal:
		return fmt.Sprint(v.BoolVal)
	case *gpb.TypedValue_JsonIetfVal:
		return string(v.JsonIetfVal)
	}
	return prototext.Format(tv)
}
