// Package firmware replaces the unit's tandem firmware, the tandemd
// executable, with a new image (CFG-6): it checks that the image is a
// tandemd and asks it its version, keeps a backup of the running firmware
// and of the settings when asked to (CFG-5), and installs the image in
// place of the running executable, so that a restart (the daemon
// re-executes itself, or the service manager starts it) runs the new
// version. Plugins are separate executables and are not part of the
// image.
//
// Every step that writes does so to a temporary file in the destination's
// directory and renames it into place: a failure at any point leaves the
// running firmware and the previous backup as they were.
package firmware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Program is the first word of a tandemd image's -version output.
const Program = "tandemd"

// ImageVersion runs image -version and returns the version it reports. An
// error names the image and why it is not a tandemd image.
func ImageVersion(ctx context.Context, image string) (string, error) {
	if !filepath.IsAbs(image) {
		return "", fmt.Errorf("image %q: give an absolute path on this unit", image)
	}
	fi, err := os.Stat(image)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", image, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("image %q: not an executable file (mode %s)", image, fi.Mode())
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, image, "-version").Output()
	if err != nil {
		return "", fmt.Errorf("image %q: running it with -version: %w", image, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != Program {
		return "", fmt.Errorf("image %q: not a tandemd image: -version printed %q, want %q", image, bytes.TrimSpace(out), Program+" VERSION")
	}
	return f[1], nil
}

// Backup is the firmware and settings kept by the last upgrade (CFG-5).
type Backup struct {
	// Version is the firmware version that was replaced.
	Version string `json:"version"`
	// Revision is the running configuration's revision at the time.
	Revision uint64 `json:"revision"`
	// Time is when the backup was made.
	Time time.Time `json:"time"`
	// Dir holds the backup: the executable (Executable), the settings as
	// RFC 7951 JSON (Settings) and this record (Manifest).
	Dir string `json:"-"`
}

// Names of the files in a backup directory.
const (
	Executable = "tandemd"
	Settings   = "settings.json"
	Manifest   = "backup.json"
)

// WriteBackup replaces the backup in dir with the executable exe (the
// running firmware) and settings, recorded as b. The new backup is built
// next to dir and swapped in whole, so a failure keeps the previous one.
func WriteBackup(dir, exe string, settings []byte, b Backup) (Backup, error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return Backup{}, fmt.Errorf("firmware backup: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".backup-")
	if err != nil {
		return Backup{}, fmt.Errorf("firmware backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	manifest, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return Backup{}, fmt.Errorf("firmware backup: %w", err)
	}
	if err := copyFile(filepath.Join(tmp, Executable), exe, 0o755); err != nil {
		return Backup{}, fmt.Errorf("firmware backup of %s: %w", exe, err)
	}
	for name, data := range map[string][]byte{Settings: settings, Manifest: manifest} {
		if err := writeSynced(filepath.Join(tmp, name), bytes.NewReader(data), 0o600); err != nil {
			return Backup{}, fmt.Errorf("firmware backup: %w", err)
		}
	}
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return Backup{}, fmt.Errorf("firmware backup: %w", err)
	}
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Backup{}, fmt.Errorf("firmware backup: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.Rename(old, dir)
		return Backup{}, fmt.Errorf("firmware backup: %w", err)
	}
	_ = os.RemoveAll(old)
	b.Dir = dir
	return b, nil
}

// ReadBackup returns the backup kept in dir; an error wrapping
// os.ErrNotExist when there is none.
func ReadBackup(dir string) (Backup, error) {
	raw, err := os.ReadFile(filepath.Join(dir, Manifest))
	if err != nil {
		return Backup{}, fmt.Errorf("firmware backup: %w", err)
	}
	var b Backup
	if err := json.Unmarshal(raw, &b); err != nil {
		return Backup{}, fmt.Errorf("firmware backup %s: %w", filepath.Join(dir, Manifest), err)
	}
	b.Dir = dir
	return b, nil
}

// Install puts image in place of the executable exe: copied next to it,
// synced, and renamed over it, so exe is always either the old or the new
// firmware. The running process keeps executing the old file.
func Install(exe, image string) error {
	src, err := os.Open(image)
	if err != nil {
		return fmt.Errorf("install %s: %w", image, err)
	}
	defer src.Close()
	tmp := filepath.Join(filepath.Dir(exe), "."+filepath.Base(exe)+".new")
	if err := writeSynced(tmp, src, 0o755); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("install %s as %s: %w", image, exe, err)
	}
	if err := os.Rename(tmp, exe); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("install %s as %s: %w", image, exe, err)
	}
	return nil
}

func copyFile(dst, src string, perm os.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeSynced(dst, f, perm)
}

// writeSynced writes r to a new file path with perm and syncs it.
func writeSynced(path string, r io.Reader, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, perm)
}
