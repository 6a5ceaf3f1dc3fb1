package configsync

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/gen/tandem"
)

func openStore(t testing.TB, initial *tandem.Device) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "config.db"), store.Options{
		Validate: validate.StoreValidator, Initial: initial, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commit(t *testing.T, st *store.Store, path, value string) {
	t.Helper()
	if _, err := st.Update(context.Background(), "test", store.Meta{Author: "test", Origin: "cli"}, func(d *tandem.Device) error {
		return model.Set(d, path, []byte(value))
	}); err != nil {
		t.Fatal(err)
	}
}

// standby serves one session per accepted connection with st.
func standby(t *testing.T, st *store.Store, key []byte, accepting bool) (string, chan error) {
	return standbyWith(t, st, key, accepting, nil)
}

// standbyWith is standby that takes firmware with fw.
func standbyWith(t *testing.T, st *store.Store, key []byte, accepting bool, fw *firmwareReceiver) (string, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	errs := make(chan error, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _, err = serve(context.Background(), c, "STANDBY-1", key, st, accepting, fw)
			errs <- err
		}
	}()
	return ln.Addr().String(), errs
}

func mustKey(t testing.TB, psk string) []byte {
	t.Helper()
	k, err := deriveKey(psk)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sameConfig(t *testing.T, a, b *store.Store) {
	t.Helper()
	da, _ := a.Running()
	db, _ := b.Running()
	ha, _ := Hash(da)
	hb, _ := Hash(db)
	if ha != hb {
		ea, _ := model.Encode(da)
		eb, _ := model.Encode(db)
		t.Fatalf("configurations differ:\nactive:\n%s\nstandby:\n%s", ea, eb)
	}
}

// SPEC: CFG-2
// A standby with another configuration gets the whole configuration; the
// next revision goes as its changes only; a change of a secret, which a
// diff does not carry, goes whole again. The standby records each as a
// revision of origin sync naming the active.
func TestPushCompleteThenIncremental(t *testing.T) {
	key := mustKey(t, "sync test key")
	active := openStore(t, nil)
	stb := openStore(t, nil)
	commit(t, stb, "/interfaces/interface[name=X5]/config/description", `"standby only"`)
	commit(t, active, "/interfaces/interface[name=X1]/config/description", `"wan"`)
	addr, _ := standby(t, stb, key, true)

	out, err := pushTo(context.Background(), addr, "ACTIVE-1", key, active)
	if err != nil || out.Mode != ModeComplete {
		t.Fatalf("first push: %+v, %v; want complete", out, err)
	}
	sameConfig(t, active, stb)
	if h := stb.History(1)[0]; h.Origin != "sync" || h.Author != "ACTIVE-1" || !strings.Contains(h.Comment, "complete") {
		t.Errorf("standby revision %+v, want origin sync by ACTIVE-1", h)
	}

	commit(t, active, "/interfaces/interface[name=X1]/config/description", `"wan uplink"`)
	out, err = pushTo(context.Background(), addr, "ACTIVE-1", key, active)
	if err != nil || out.Mode != ModeIncremental || out.Changes != 1 {
		t.Fatalf("second push: %+v, %v; want incremental with 1 change", out, err)
	}
	sameConfig(t, active, stb)

	out, err = pushTo(context.Background(), addr, "ACTIVE-1", key, active)
	if err != nil || out.Mode != "" {
		t.Fatalf("push when in sync: %+v, %v; want nothing sent", out, err)
	}

	commit(t, active, "/ha/config/pre-shared-key", `"a new secret key"`)
	out, err = pushTo(context.Background(), addr, "ACTIVE-1", key, active)
	if err != nil || out.Mode != ModeComplete {
		t.Fatalf("secret change: %+v, %v; want complete", out, err)
	}
	sameConfig(t, active, stb)
}

// SPEC: SEC-1
// A push under another pre-shared key is refused and changes nothing.
func TestPushWithWrongKeyIsRefused(t *testing.T) {
	active := openStore(t, nil)
	stb := openStore(t, nil)
	commit(t, active, "/interfaces/interface[name=X1]/config/description", `"wan"`)
	addr, _ := standby(t, stb, mustKey(t, "the standby's key"), true)
	if _, err := pushTo(context.Background(), addr, "ACTIVE-1", mustKey(t, "another key!"), active); err == nil || !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("push with a wrong key: %v, want an authentication error", err)
	}
	if _, info := stb.Running(); info.ID != 1 {
		t.Errorf("the standby committed revision %d from an unauthenticated push", info.ID)
	}
}

// A unit that is active itself takes no pushes.
func TestActivePeerTakesNoPush(t *testing.T) {
	key := mustKey(t, "sync test key")
	active := openStore(t, nil)
	other := openStore(t, nil)
	commit(t, active, "/interfaces/interface[name=X1]/config/description", `"wan"`)
	addr, _ := standby(t, other, key, false)
	if _, err := pushTo(context.Background(), addr, "ACTIVE-1", key, active); !errors.Is(err, errNotAccepting) {
		t.Fatalf("push to an active peer: %v, want errNotAccepting", err)
	}
	if _, info := other.Running(); info.ID != 1 {
		t.Errorf("the active peer took a push")
	}
}

// A push whose body was altered after it was authenticated is refused.
func TestTamperedPushIsRefused(t *testing.T) {
	key := mustKey(t, "sync test key")
	p := push{Mode: ModeComplete, TargetHash: "x", Config: []byte(`{}`)}
	f, err := seal(key, "push", p, "nonce-s")
	if err != nil {
		t.Fatal(err)
	}
	f.Body = []byte(strings.Replace(string(f.Body), `"x"`, `"y"`, 1))
	var got push
	if err := open(key, f, "push", &got, "nonce-s"); err == nil {
		t.Fatal("a tampered push was accepted")
	}
	f2, _ := seal(key, "push", p, "nonce-s")
	if err := open(key, f2, "push", &got, "another-session-nonce"); err == nil {
		t.Fatal("a push replayed into another session was accepted")
	}
}

// An incremental push that does not produce the active's configuration is
// refused, leaving the standby as it was (the active then sends it
// whole).
func TestIncrementalMismatchIsRefused(t *testing.T) {
	stb := openStore(t, nil)
	running, _ := stb.Running()
	base, _ := Hash(running)
	p := push{Mode: ModeIncremental, BaseHash: base, TargetHash: "not-the-result",
		Changes: []model.Change{{Path: "/interfaces/interface[name=X1]/config/description", Value: []byte(`"x"`)}}}
	if _, err := apply(context.Background(), stb, p, base, "ACTIVE-1"); err == nil {
		t.Fatal("a mismatching incremental push was applied")
	}
	if _, info := stb.Running(); info.ID != 1 {
		t.Errorf("the standby changed")
	}
}

// SPEC: CFG-4
// inspect reports the peer's revision and hash without changing anything,
// and fetches its configuration for a diff between the members.
func TestInspectAndFetch(t *testing.T) {
	key := mustKey(t, "sync test key")
	self := openStore(t, nil)
	peer := openStore(t, nil)
	commit(t, peer, "/interfaces/interface[name=X7]/config/description", `"peer only"`)
	addr, _ := standby(t, peer, key, false) // an active peer still answers tests and fetches
	p, err := inspect(context.Background(), addr, "SELF-1", key, true)
	if err != nil {
		t.Fatal(err)
	}
	peerRunning, info := peer.Running()
	h, _ := Hash(peerRunning)
	if p.Serial != "STANDBY-1" || p.Revision != info.ID || p.Hash != h || p.Accepting {
		t.Errorf("inspected %+v", p)
	}
	running, _ := self.Running()
	changes, err := model.Diff(running, p.Config)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range changes {
		found = found || c.Path == "/interfaces/interface[name=X7]/config/description"
	}
	if !found {
		t.Errorf("diff between the members lacks the peer's description: %v", changes)
	}
	if _, info := peer.Running(); info.ID != 2 {
		t.Errorf("inspecting changed the peer")
	}
}
