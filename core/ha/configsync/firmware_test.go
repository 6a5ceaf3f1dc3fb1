package configsync

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SPEC: CFG-3
// Synchronize firmware sends the active's executable to the standby in
// authenticated chunks; the standby installs exactly those bytes, from an
// executable file it removes afterwards, and the active learns the
// outcome. A unit with another key, an active peer, a unit that takes no
// firmware and a failed installation are all refused, with the reason.
func TestPushFirmware(t *testing.T) {
	key := mustKey(t, "sync test key")
	image := make([]byte, 3*chunkSize+12345) // several chunks, a partial last one
	if _, err := rand.Read(image); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "tandemd")
	if err := os.WriteFile(exe, image, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var got []byte
	var installErr error
	fw := &firmwareReceiver{dir: dir, install: func(_ context.Context, path string) error {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm()&0o100 == 0 {
			t.Errorf("image handed over as %v (%v), want an executable file", fi, err)
		}
		got, _ = os.ReadFile(path)
		return installErr
	}}
	addr, errs := standbyWith(t, openStore(t, nil), key, true, fw)
	ctx := context.Background()

	if err := pushFirmware(ctx, addr, "ACTIVE-1", key, exe, "0.2.0"); err != nil || <-errs != nil {
		t.Fatalf("push: %v", err)
	}
	if !bytes.Equal(got, image) {
		t.Fatalf("the standby installed %d bytes, want the %d of the image", len(got), len(image))
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("received image left behind: %v", left)
	}

	installErr = errors.New("input/image: not a tandemd image")
	err := pushFirmware(ctx, addr, "ACTIVE-1", key, exe, "0.2.0")
	if err == nil || !strings.Contains(err.Error(), "not a tandemd image") || <-errs == nil {
		t.Errorf("failed install: %v, want the standby's reason", err)
	}

	got = nil
	if err := pushFirmware(ctx, addr, "ACTIVE-1", mustKey(t, "another key"), exe, "0.2.0"); !errors.Is(err, ErrAuth) {
		t.Errorf("push with another key: %v, want ErrAuth", err)
	}
	<-errs
	noFirmware, errs2 := standby(t, openStore(t, nil), key, true)
	if err := pushFirmware(ctx, noFirmware, "ACTIVE-1", key, exe, "0.2.0"); err == nil {
		t.Error("a unit that takes no firmware accepted it")
	}
	if err := <-errs2; err == nil || !strings.Contains(err.Error(), "does not take firmware") {
		t.Errorf("standby without a receiver: %v", err)
	}
	activePeer, _ := standbyWith(t, openStore(t, nil), key, false, fw)
	if err := pushFirmware(ctx, activePeer, "ACTIVE-1", key, exe, "0.2.0"); !errors.Is(err, errNotAccepting) {
		t.Errorf("push to an active peer: %v, want errNotAccepting", err)
	}
	if got != nil {
		t.Error("a refused push installed firmware")
	}
}

// FuzzServe feeds arbitrary bytes to a standby's session: whatever
// arrives, serve returns, and nothing unauthenticated is installed, as
// firmware or as configuration.
func FuzzServe(f *testing.F) {
	hello := `{"kind":"hello","body":{"nonce":"n1","serial":"A"}}` + "\n"
	f.Add([]byte(hello))
	f.Add([]byte(hello + `{"kind":"firmware","body":{"version":"1","size":3,"sha256":"00"},"mac":"00"}` + "\n"))
	f.Add([]byte(hello + `{"kind":"firmware-chunk","body":{"index":0,"data":"AAAA"},"mac":"00"}` + "\n"))
	f.Add([]byte(hello + `{"kind":"push","body":{"mode":"complete","config":{}},"mac":"00"}` + "\n"))
	key := mustKey(f, "fuzz key")
	st := openStore(f, nil)
	_, before := st.Running()
	fw := &firmwareReceiver{dir: f.TempDir(), install: func(context.Context, string) error {
		f.Fatal("unauthenticated firmware was installed")
		return nil
	}}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = serve(context.Background(), &replayConn{r: bytes.NewReader(data)}, "STANDBY-1", key, st, true, fw)
		if _, info := st.Running(); info.ID != before.ID {
			t.Fatalf("an unauthenticated session changed the configuration to revision %d", info.ID)
		}
	})
}

// replayConn is a connection whose peer sent r and then closed; what is
// written to it is dropped.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *replayConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }
