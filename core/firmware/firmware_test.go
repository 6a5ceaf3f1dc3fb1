package firmware

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script that prints out.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// SPEC: CFG-6
// An image is accepted only when it is an executable that reports itself
// as tandemd with a version; every refusal names the image and the reason.
func TestImageVersion(t *testing.T) {
	dir := t.TempDir()
	good := script(t, dir, "good", `echo "tandemd 0.2.0"`)
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := ImageVersion(context.Background(), good)
	if err != nil || v != "0.2.0" {
		t.Fatalf("version %q, %v; want 0.2.0", v, err)
	}
	for image, want := range map[string]string{
		"relative/tandemd":            "absolute path",
		filepath.Join(dir, "missing"): "no such file",
		plain:                         "not an executable",
		script(t, dir, "other", `echo "nginx 1.2"`):        "not a tandemd image",
		script(t, dir, "fails", `exit 3`):                  "with -version: exit status 3",
		script(t, dir, "chatty", `echo "tandemd 1 extra"`): "not a tandemd image",
	} {
		_, err := ImageVersion(context.Background(), image)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), image) {
			t.Errorf("%s: err %v, want one naming the image and %q", image, err, want)
		}
	}
}

// SPEC: CFG-5
// A backup holds the running executable, the settings and a manifest; a
// second backup replaces the first whole; a failed backup keeps the
// previous one.
func TestBackupIsReplacedWhole(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "firmware-backup")
	if _, err := ReadBackup(backup); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no backup yet: err %v, want not-exist", err)
	}
	exe := script(t, dir, "tandemd", `echo "tandemd 0.1.0"`)
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	if _, err := WriteBackup(backup, exe, []byte(`{"a":1}`), Backup{Version: "0.1.0", Revision: 7, Time: at}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho tandemd 0.2.0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := WriteBackup(backup, exe, []byte(`{"a":2}`), Backup{Version: "0.2.0", Revision: 9, Time: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadBackup(backup)
	if err != nil || got != b || got.Version != "0.2.0" || got.Revision != 9 || !got.Time.Equal(at.Add(time.Hour)) {
		t.Fatalf("backup %+v (%v), want %+v", got, err, b)
	}
	if v, err := ImageVersion(context.Background(), filepath.Join(backup, Executable)); err != nil || v != "0.2.0" {
		t.Errorf("backed-up executable reports %q, %v", v, err)
	}
	if s, _ := os.ReadFile(filepath.Join(backup, Settings)); string(s) != `{"a":2}` {
		t.Errorf("settings %s", s)
	}
	if _, err := WriteBackup(backup, filepath.Join(dir, "gone"), []byte(`{}`), Backup{Version: "x"}); err == nil {
		t.Fatal("backup of a missing executable succeeded")
	}
	if got, err := ReadBackup(backup); err != nil || got.Version != "0.2.0" {
		t.Errorf("after a failed backup: %+v, %v; want the previous one kept", got, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".backup-") || strings.HasSuffix(e.Name(), ".old") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

// SPEC: CFG-6
// Install replaces the executable by rename: a process holding the old
// file keeps reading the old firmware, the path gives the new one.
func TestInstallReplacesByRename(t *testing.T) {
	dir := t.TempDir()
	exe := script(t, dir, "tandemd", `echo "tandemd 0.1.0"`)
	image := script(t, t.TempDir(), "image", `echo "tandemd 0.2.0"`)
	running, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	if err := Install(exe, image); err != nil {
		t.Fatal(err)
	}
	if v, err := ImageVersion(context.Background(), exe); err != nil || v != "0.2.0" {
		t.Errorf("installed executable reports %q, %v", v, err)
	}
	old := make([]byte, 64)
	n, _ := running.Read(old)
	if !strings.Contains(string(old[:n]), "0.1.0") {
		t.Errorf("the running file changed under its reader: %q", old[:n])
	}
	if err := Install(exe, filepath.Join(dir, "missing")); err == nil {
		t.Error("installing a missing image succeeded")
	}
	if v, _ := ImageVersion(context.Background(), exe); v != "0.2.0" {
		t.Errorf("a failed install changed the executable: %q", v)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tandemd.new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}
