package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tandem-ha/tandem/core/firmware"
	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/northbound/service"
)

// ErrRestart is what Run returns when an upgrade installed new firmware:
// the caller executes Config.Executable again (cmd/tandemd does).
var ErrRestart = errors.New("restarting into new firmware")

// restartDelay is how long the daemon keeps serving after it answered an
// upgrade, so that the answer reaches the caller.
const restartDelay = 500 * time.Millisecond

// handOverTimeout bounds the wait for the standby to take the active role
// before an upgrade restarts the active unit.
const handOverTimeout = 15 * time.Second

// backupDir is where upgrades keep the firmware backup (CFG-5).
func (d *Daemon) backupDir() string { return filepath.Join(d.cfg.DataDir, "firmware-backup") }

// upgrade installs image as this unit's firmware and restarts into it
// (upgrade-firmware): the image must be a tandemd; with
// /ha/config/backup-on-upgrade on, the running executable and settings are
// kept first (CFG-5); on an active unit whose peer is a ready standby, the
// active role is handed over before the restart, so that a rolling
// upgrade keeps every synced session (CFG-6).
func (d *Daemon) upgrade(ctx context.Context, image string) (service.UpgradeOutput, error) {
	if d.cfg.Executable == "" {
		return service.UpgradeOutput{}, service.Errorf(service.KindUnavailable, "upgrade-firmware: this daemon was started without knowing its executable")
	}
	if !d.upgrading.TryLock() {
		return service.UpgradeOutput{}, service.Errorf(service.KindConflict, "upgrade-firmware: another upgrade is in progress")
	}
	defer d.upgrading.Unlock()
	version, err := firmware.ImageVersion(ctx, image)
	if err != nil {
		return service.UpgradeOutput{}, service.Errorf(service.KindInvalid, "input/image: %v", err)
	}
	out := service.UpgradeOutput{PreviousVersion: Version, Version: version}
	running, info := d.store.Running()
	if running.GetHa().GetConfig().GetBackupOnUpgrade() {
		settings, err := model.Encode(running)
		if err != nil {
			return service.UpgradeOutput{}, fmt.Errorf("upgrade-firmware: encoding the settings for the backup: %w", err)
		}
		b, err := firmware.WriteBackup(d.backupDir(), d.cfg.Executable, settings,
			firmware.Backup{Version: Version, Revision: info.ID, Time: time.Now().UTC()})
		if err != nil {
			return service.UpgradeOutput{}, fmt.Errorf("upgrade-firmware: %w; nothing was installed", err)
		}
		out.Backup = b.Dir
		d.publishBackup(b)
		d.event(telemetry.Event{Type: "firmware-backup", Message: fmt.Sprintf("firmware %s and the settings of revision %d kept in %s", Version, info.ID, b.Dir)})
	}
	if err := firmware.Install(d.cfg.Executable, image); err != nil {
		return service.UpgradeOutput{}, fmt.Errorf("upgrade-firmware: %w; the running firmware is unchanged", err)
	}
	if out.SwitchedOver, err = d.handOver(ctx); err != nil {
		return out, service.Errorf(service.KindConflict,
			"upgrade-firmware: firmware %s is installed and runs from the next restart, but this unit stays active and did not restart: %v; run failover, then upgrade-firmware again", version, err)
	}
	d.event(telemetry.Event{Type: "firmware-upgrade", Severity: telemetry.SeverityWarning,
		Message: fmt.Sprintf("firmware %s installed in place of %s; tandemd restarts into it", version, Version)})
	time.AfterFunc(restartDelay, func() { d.restartOnce.Do(func() { close(d.restart) }) })
	return out, nil
}

// handOver hands the active role to the peer when this unit is active and
// the peer is a standby: the failover command, then a wait until this
// unit is no longer active. It reports whether it handed over; a unit that
// is not active, or has no standby to hand to, restarts as it is.
func (d *Daemon) handOver(ctx context.Context) (bool, error) {
	if d.rec.Role() != fsm.RoleActive {
		return false, nil
	}
	if st := d.ha.Status(ctx); st.Peer == nil || st.Peer.Role != string(fsm.RoleStandby) {
		return false, nil
	}
	if err := d.ha.Admin(fsm.Command("failover")); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, handOverTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for d.rec.Role() == fsm.RoleActive {
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("the standby did not take the active role within %s", handOverTimeout)
		case <-tick.C:
		}
	}
	return true, nil
}

// publishBackup shows the firmware backup b in the state tree (CFG-5).
func (d *Daemon) publishBackup(b firmware.Backup) {
	const base = "/system/state/firmware-backup/"
	d.update(base+"version", b.Version)
	d.update(base+"revision", b.Revision)
	d.update(base+"time", b.Time.UTC().Format(time.RFC3339))
	d.update(base+"directory", b.Dir)
}
