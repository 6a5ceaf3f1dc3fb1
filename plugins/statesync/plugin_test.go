package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/client"
)

func intent(role string, spec *sdk.StatesyncSpec) *sdk.Intent {
	return &sdk.Intent{Revision: 1, Role: role, Statesync: spec}
}

func spec(local, peer string) *sdk.StatesyncSpec {
	return &sdk.StatesyncSpec{Enabled: true, Local: local, Peer: peer, Key: []byte("plugin-test-key"), Channels: []string{"users"}}
}

// SPEC SYNC-7: two plugin instances on loopback, driven by intents as
// the reconciler drives them: applying twice changes nothing, the
// standby reports its bulk sync, the takeover confirmation is ready at
// once, and turning stateful sync off stops the stream.
func TestApplyDrivesTheStream(t *testing.T) {
	ctx := context.Background()
	a, b := newPlugin(), newPlugin()
	sa, sb := spec("127.0.0.1:47811", "127.0.0.1:47812"), spec("127.0.0.1:47812", "127.0.0.1:47811")
	for _, c := range []struct {
		p    *plugin
		in   *sdk.Intent
		want uint32
	}{
		{a, intent(sdk.RoleActive, sa), 2}, // start + role
		{a, intent(sdk.RoleActive, sa), 0}, // idempotent
		{b, intent(sdk.RoleStandby, sb), 2},
		{b, intent(sdk.RoleStandby, sb), 0},
	} {
		res, err := c.p.Apply(ctx, c.in)
		if err != nil || res.GetChanges() != c.want {
			t.Fatalf("Apply = %v, %v; want %d changes", res, err, c.want)
		}
	}
	t.Cleanup(func() {
		for _, p := range []*plugin{a, b} {
			_, _ = p.Apply(ctx, intent(sdk.RoleStandalone, &sdk.StatesyncSpec{}))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !b.status().GetBulkSyncComplete() {
		if time.Now().After(deadline) {
			t.Fatalf("the standby never completed a bulk sync: %v", b.status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !b.status().GetPeerHeard() {
		t.Errorf("the standby does not report its peer heard")
	}
	res, err := b.PrepareActive(ctx)
	if err != nil || !res.GetReady() {
		t.Fatalf("PrepareActive = %v, %v", res, err)
	}
	// A key change applies in place (SEC-1): one change, same stream.
	sb2 := spec("127.0.0.1:47812", "127.0.0.1:47811")
	sb2.Key = []byte("plugin-test-key-2")
	before := b.run
	if res, err := b.Apply(ctx, intent(sdk.RoleStandby, sb2)); err != nil || res.GetChanges() != 1 || b.run != before {
		t.Fatalf("key change: %v, %v; stream replaced %v", res, err, b.run != before)
	}
	// Off: the stream stops, nothing to wait for.
	if res, err := b.Apply(ctx, intent(sdk.RoleStandby, &sdk.StatesyncSpec{})); err != nil || res.GetChanges() != 1 {
		t.Fatalf("disable: %v, %v", res, err)
	}
	if b.run != nil || !b.status().GetBulkSyncComplete() {
		t.Fatalf("disabled plugin still runs or blocks takeover: %v", b.status())
	}
	if res, _ := b.PrepareActive(ctx); !res.GetReady() {
		t.Fatalf("PrepareActive with sync off: %v", res)
	}
}

func TestApplyRefusesBadEndpoints(t *testing.T) {
	p := newPlugin()
	if _, err := p.Apply(context.Background(), intent(sdk.RoleActive, spec("not-an-address", "127.0.0.1:1"))); err == nil {
		t.Fatal("a bad local endpoint was accepted")
	}
	if p.run != nil {
		t.Fatal("a failed Apply left a stream running")
	}
}

func TestRoleMapping(t *testing.T) {
	for role, want := range map[string]string{sdk.RoleActive: "active", sdk.RoleStandby: "standby", sdk.RoleStandalone: "other", sdk.RoleInitializing: "other", sdk.RoleFaulted: "other"} {
		if got := roleOf(role).String(); got != want {
			t.Errorf("roleOf(%s) = %s, want %s", role, got, want)
		}
	}
}

// SPEC OBS-1: the per-channel rates come from the counters' growth over
// the report interval.
func TestRates(t *testing.T) {
	prev := map[string]*sdk.ChannelStatus{"connections": {Name: "connections", SentRecords: 100, Applied: 0, BytesSent: 4000}}
	st := &sdk.SyncStatus{Channels: []*sdk.ChannelStatus{
		{Name: "connections", SentRecords: 600, BytesSent: 24000},
		{Name: "ipsec", SentRecords: 7},
	}}
	rates(st, prev, 2*time.Second)
	if c := st.Channels[0]; c.GetRecordRate() != 250 || c.GetByteRate() != 10000 {
		t.Errorf("connections: %d records/s, %d bytes/s; want 250 and 10000", c.GetRecordRate(), c.GetByteRate())
	}
	if c := st.Channels[1]; c.GetRecordRate() != 0 {
		t.Errorf("a channel without a previous report got a rate: %d", c.GetRecordRate())
	}
}

// SPEC SYNC-9: what a service published survives a rebuild of the stream
// (a throttle change) and goes away only when stateful sync is off.
func TestPublishedStateSurvivesStreamRebuild(t *testing.T) {
	ctx := context.Background()
	p := newPlugin()
	sp := spec("127.0.0.1:47821", "127.0.0.1:47822")
	sp.Channels = []string{"dns-cache"}
	sp.PublishSocket = filepath.Join(t.TempDir(), "statesync.sock")
	if _, err := p.Apply(ctx, intent(sdk.RoleActive, sp)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = p.Apply(ctx, intent(sdk.RoleStandalone, &sdk.StatesyncSpec{})) })
	c, err := client.Dial(ctx, sp.PublishSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Upsert(ctx, "dns-cache", client.Entry{Key: "example.com/A/IN", Type: "tandem.test.v1", Value: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	throttled := spec("127.0.0.1:47821", "127.0.0.1:47822")
	throttled.Channels, throttled.PublishSocket, throttled.RateBytesPerSecond = sp.Channels, sp.PublishSocket, 125000
	before := p.run
	if _, err := p.Apply(ctx, intent(sdk.RoleActive, throttled)); err != nil {
		t.Fatal(err)
	}
	if p.run == before {
		t.Fatal("a throttle change did not rebuild the stream")
	}
	_, entries, err := c.Get(ctx, "dns-cache")
	if err != nil || len(entries) != 1 || entries[0].Key != "example.com/A/IN" {
		t.Fatalf("after the rebuild: %v, %v", entries, err)
	}
	if _, err := p.Apply(ctx, intent(sdk.RoleActive, &sdk.StatesyncSpec{})); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Dial(ctx, sp.PublishSocket); err == nil {
		t.Fatal("the publish socket still answers with stateful sync off")
	}
}
