package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/daemon"
	"github.com/tandem-ha/tandem/core/firmware"
	"github.com/tandem-ha/tandem/core/model"
)

// version asks a unit for the firmware it runs; "" when it does not
// answer (restarting).
func (l *pairLab) version(unitName string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := l.clients[unitName].Status(ctx)
	if err != nil {
		return ""
	}
	return st.Version
}

// SPEC: CFG-5
// SPEC: CFG-6
// A rolling upgrade with `tandemctl firmware upgrade`, the standby first,
// then the active, keeps a live TCP session through the pair: the
// standby restarts into the new firmware and rejoins (fail-soft while the
// versions differ, then a bulk sync); upgrading the active hands the role
// to the upgraded standby before it restarts, so the session moves over
// with its synced state. With backup-on-upgrade on, each unit keeps the
// firmware it ran and its settings.
func TestRollingUpgradeKeepsSessions(t *testing.T) {
	l := startSyncPair(t, true)
	l.ctl("fw1", "config", "set", "/ha/config/backup-on-upgrade", "true")
	l.ctl("fw1", "config", "commit", "-m", "keep a firmware backup at upgrades")
	l.fw2.eventually("the standby has backup-on-upgrade by config sync", 10*time.Second, func() bool {
		return strings.Contains(l.ctl("fw2", "config", "show"), `"backup-on-upgrade": true`)
	})
	tr := startTransfer(t, l, "198.51.100.10:5104")
	l.fw2.eventually("the session is installed in the standby's table", 5*time.Second, func() bool {
		return conntrackCount(t, l.fw2.ns, "-p", "tcp", "--dport", "5104", "--state", "ESTABLISHED") == 1
	})
	image := filepath.Join(bin, "tandemd-next")
	if _, err := firmware.ImageVersion(context.Background(), image); err != nil {
		t.Fatal(err)
	}

	// 1. The standby.
	out := l.ctl("fw2", "firmware", "upgrade", image)
	if strings.Contains(out, "handed") || !strings.Contains(out, "firmware "+nextVersion+" installed") {
		t.Fatalf("upgrading the standby: %s", out)
	}
	l.fw2.eventually("the standby runs the new firmware", 20*time.Second, func() bool { return l.version("fw2") == nextVersion })
	l.fw2.eventually("the upgraded standby rejoins as standby with a complete bulk sync", 20*time.Second, func() bool {
		return l.role("fw2") == "standby" && strings.Contains(l.ctl("fw2", "state", "/statesync/state/bulk-sync-complete"), "true")
	})
	if l.role("fw1") != "active" {
		t.Fatalf("fw1 is %q while its standby was upgraded", l.role("fw1"))
	}
	ha := l.ctl("fw1", "ha", "status")
	if !strings.Contains(ha, nextVersion) || !strings.Contains(strings.ToLower(ha), "fail-soft") {
		t.Errorf("during the upgrade the active should show the peer's firmware and fail-soft mode:\n%s", ha)
	}
	before := tr.sink.Result().Received

	// 2. The active: it hands over, then restarts.
	handOver := time.Now()
	out = l.ctl("fw1", "firmware", "upgrade", image)
	if !strings.Contains(out, "handed to the standby") {
		t.Fatalf("upgrading the active did not hand the role over: %s", out)
	}
	if l.role("fw2") != "active" {
		t.Fatalf("fw2 is %q after the hand-over", l.role("fw2"))
	}
	l.fw1.eventually("the former active runs the new firmware as standby", 20*time.Second, func() bool {
		return l.version("fw1") == nextVersion && l.role("fw1") == "standby"
	})
	time.Sleep(time.Second)
	if mid := tr.sink.Result(); mid.Received <= before || !mid.Last.After(handOver) {
		t.Fatalf("nothing arrived after the hand-over: %d bytes before, %d now", before, mid.Received)
	}
	r := tr.finish(t, l)
	t.Logf("%.1f MB in order through both upgrades, longest silence %s", float64(r.Received)/1e6, r.Longest.Round(time.Millisecond))
	if ha := l.ctl("fw2", "ha", "status"); strings.Contains(strings.ToLower(ha), "fail-soft") {
		t.Errorf("both units run %s, yet the pair is still fail-soft:\n%s", nextVersion, ha)
	}

	// CFG-5: each unit kept the firmware it ran and its settings.
	for _, u := range []string{"fw1", "fw2"} {
		b, err := firmware.ReadBackup(filepath.Join(l.dir, u, "firmware-backup"))
		if err != nil || b.Version != daemon.Version {
			t.Fatalf("%s: backup %+v, %v; want firmware %s", u, b, err, daemon.Version)
		}
		if v, err := firmware.ImageVersion(context.Background(), filepath.Join(b.Dir, firmware.Executable)); err != nil || v != daemon.Version {
			t.Errorf("%s: the backed-up executable reports %q, %v", u, v, err)
		}
		raw, err := os.ReadFile(filepath.Join(b.Dir, firmware.Settings))
		if err != nil {
			t.Fatal(err)
		}
		settings, err := model.Decode(raw)
		if err != nil || !settings.GetHa().GetConfig().GetBackupOnUpgrade() {
			t.Errorf("%s: the kept settings do not decode to the running configuration: %v", u, err)
		}
		if out := l.ctl(u, "firmware", "backup"); !strings.Contains(out, "firmware "+daemon.Version) {
			t.Errorf("%s: tandemctl firmware backup: %s", u, out)
		}
		var st struct {
			System struct {
				State struct {
					Backup struct {
						Version string `json:"version"`
					} `json:"firmware-backup"`
				} `json:"state"`
			} `json:"tandem-system:system"`
		}
		state := l.ctl(u, "state", "/system/state/firmware-backup")
		if err := json.Unmarshal([]byte(state), &st); err != nil || st.System.State.Backup.Version != daemon.Version {
			t.Errorf("%s: state firmware-backup: %s (%v)", u, state, err)
		}
	}
}

// SPEC: CFG-6
// An image that is not a tandemd is refused with the reason, and the
// unit keeps running the firmware it has.
func TestUpgradeRefusesABadImage(t *testing.T) {
	l := startPair(t)
	bad := filepath.Join(t.TempDir(), "not-tandemd")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := l.tryCtl("fw2", "firmware", "upgrade", bad)
	if err == nil || !strings.Contains(out, "input/image") || !strings.Contains(out, "not a tandemd image") {
		t.Fatalf("bad image: err %v, output %s", err, out)
	}
	time.Sleep(time.Second)
	if v := l.version("fw2"); v != daemon.Version {
		t.Errorf("fw2 runs %q after a refused upgrade, want %s", v, daemon.Version)
	}
}

// SPEC: CFG-3
// Synchronize firmware: with the standby on another firmware (upgraded
// alone), `tandemctl ha sync-firmware` on the active sends the active's
// tandemd to it over the authenticated config sync session; the standby
// installs it, restarts into it and rejoins, and the pair leaves
// fail-soft mode. A second sync-firmware has nothing to send.
func TestSyncFirmwareInstallsTheActivesFirmware(t *testing.T) {
	l := startPair(t)
	l.ctl("fw2", "firmware", "upgrade", filepath.Join(bin, "tandemd-next"))
	l.fw2.eventually("the standby runs the other firmware", 20*time.Second, func() bool {
		return l.version("fw2") == nextVersion && l.role("fw2") == "standby"
	})
	l.fw1.eventually("the active hears the standby's firmware", 5*time.Second, func() bool {
		return strings.Contains(l.ctl("fw1", "ha", "status"), nextVersion)
	})
	out := l.ctl("fw1", "ha", "sync-firmware")
	if !strings.Contains(out, "firmware "+daemon.Version+" sent to the peer (it ran "+nextVersion+")") {
		t.Fatalf("sync-firmware: %s", out)
	}
	l.fw2.eventually("the standby runs the active's firmware again", 20*time.Second, func() bool {
		return l.version("fw2") == daemon.Version && l.role("fw2") == "standby"
	})
	l.fw1.eventually("the pair leaves fail-soft mode", 5*time.Second, func() bool {
		return !strings.Contains(strings.ToLower(l.ctl("fw1", "ha", "status")), "fail-soft")
	})
	if out := l.ctl("fw1", "ha", "sync-firmware"); !strings.Contains(out, "nothing to send") {
		t.Errorf("second sync-firmware: %s", out)
	}
	if out, err := l.tryCtl("fw2", "ha", "sync-firmware"); err == nil || !strings.Contains(out, "active") {
		t.Errorf("sync-firmware on the standby: %v %s; want it refused", err, out)
	}
}
