package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/configsync"
	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/northbound/auth"
)

// recordingHA is a fake pair engine: it records admin commands.
type recordingHA struct{ cmds []fsm.Command }

func (h *recordingHA) Status(context.Context) ha.Status {
	return ha.Status{Running: true, Peer: &ha.Member{Serial: "PEER1", Firmware: "0.0.9"}}
}
func (h *recordingHA) Admin(cmd fsm.Command) error { h.cmds = append(h.cmds, cmd); return nil }

// idleSync is a configuration sync with a reachable, agreeing peer.
type idleSync struct{}

func (idleSync) SyncNow(context.Context) (configsync.Outcome, error) {
	return configsync.Outcome{}, nil
}
func (idleSync) Test(context.Context) (configsync.TestResult, error) {
	return configsync.TestResult{}, nil
}
func (idleSync) Diff(context.Context) (string, []model.Change, error) { return "PEER1", nil, nil }
func (idleSync) PushFirmware(context.Context) error                   { return nil }

func newBackend(t *testing.T) (*Backend, *recordingHA) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "config.db"), store.Options{Validate: validate.StoreValidator})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &recordingHA{}
	return &Backend{Store: st, HA: h, Sync: idleSync{}, Firmware: "0.1.0"}, h
}

var (
	annAdmin = auth.Principal{User: "ann", Role: auth.RoleAdmin}
	operator = auth.Principal{User: "olga", Role: auth.RoleOperator}
	reader   = auth.Principal{User: "rita", Role: auth.RoleReadOnly}
)

// SPEC ROLE-4: operators run the admin commands; read-only users cannot.
func TestOperateChecksUserRole(t *testing.T) {
	b, h := newBackend(t)
	ctx := context.Background()
	if _, err := b.Operate(ctx, "force-standby", Call{Principal: operator}); err != nil {
		t.Fatalf("operator force-standby: %v", err)
	}
	if len(h.cmds) != 1 || h.cmds[0] != "force-standby" {
		t.Fatalf("engine got %v", h.cmds)
	}
	_, err := b.Operate(ctx, "failover", Call{Principal: reader})
	if KindOf(err) != KindForbidden {
		t.Fatalf("read-only failover = %v (kind %d), want forbidden", err, KindOf(err))
	}
	_, err = b.Operate(ctx, "rollback", Call{Principal: operator, Input: json.RawMessage(`{"n":1}`)})
	if KindOf(err) != KindForbidden {
		t.Fatalf("operator rollback = %v, want forbidden", err)
	}
	if _, err := b.Operate(ctx, "no-such-op", Call{Principal: annAdmin}); KindOf(err) != KindNotFound {
		t.Fatalf("unknown operation = %v, want not-found", err)
	}
}

// SPEC CLU-11, CFG-1: a standby runs read-only actions but refuses
// synchronize settings/firmware and configuration changes, saying why.
func TestOperateChecksHARole(t *testing.T) {
	b, _ := newBackend(t)
	b.MayConfigure = func() error { return errors.New("this unit is the standby") }
	ctx := context.Background()
	for _, op := range Operations() {
		_, err := b.Operate(ctx, op.Name, Call{Principal: annAdmin, Session: "t", Input: json.RawMessage(`{"n":1,"serial-number":"X1234","keyset":"k"}`)})
		refused := KindOf(err) == KindRefused
		if refused != op.ActiveOnly {
			t.Errorf("%s on a standby: %v (refused %v), want refused %v", op.Name, err, refused, op.ActiveOnly)
		}
	}
	for _, name := range []string{"sync-settings", "sync-firmware", "commit", "rollback"} {
		if op, _ := LookupOperation(name); !op.ActiveOnly {
			t.Errorf("%s must be active-only (CLU-11/CFG-1)", name)
		}
	}
	for _, name := range []string{"sync-test", "config-diff", "validate", "force-active", "reset"} {
		if op, _ := LookupOperation(name); op.ActiveOnly {
			t.Errorf("%s must be allowed on a standby (CLU-11)", name)
		}
	}
	err := b.CheckConfigure(annAdmin, "PUT /ha")
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != "this unit is the standby" {
		t.Fatalf("CheckConfigure on a standby = %v", err)
	}
}

func TestOperationsCommitAndFirmware(t *testing.T) {
	b, _ := newBackend(t)
	ctx := context.Background()
	out, err := b.Operate(ctx, "apply-licence-keyset", Call{Principal: annAdmin, Session: "t", Origin: "rest",
		Input: json.RawMessage(`{"serial-number":"X1234","keyset":"signed-keyset"}`)})
	if err != nil {
		t.Fatal(err)
	}
	rev := out.(RevisionOutput).Revision
	_, info := b.Store.Running()
	if rev != info.ID || info.Author != "ann" || info.Origin != "rest" {
		t.Fatalf("keyset revision %d, running %+v", rev, info)
	}
	if _, err := b.Operate(ctx, "remove-member", Call{Principal: annAdmin, Session: "t", Input: json.RawMessage(`{"serial-number":"NOPE1"}`)}); KindOf(err) != KindNotFound {
		t.Fatalf("remove unknown member = %v", err)
	}
	if _, err := b.Operate(ctx, "rollback", Call{Principal: annAdmin, Session: "t", Input: json.RawMessage(`{"n":0}`)}); KindOf(err) != KindInvalid {
		t.Fatalf("rollback n=0 = %v", err)
	}
	if _, err := b.Operate(ctx, "join", Call{Principal: annAdmin, Input: json.RawMessage(`{"peer":"169.254.10.1"}`)}); KindOf(err) != KindInvalid {
		t.Fatalf("join without key = %v", err)
	}
	if _, err := b.Operate(ctx, "commit", Call{Principal: annAdmin, Input: json.RawMessage(`{"bogus":1}`)}); KindOf(err) != KindInvalid {
		t.Fatalf("unknown input member = %v", err)
	}
	fw, err := b.Operate(ctx, "sync-firmware", Call{Principal: operator})
	if err != nil || fmt.Sprint(fw) != fmt.Sprint(SyncFirmwareOutput{LocalVersion: "0.1.0", PeerVersion: "0.0.9", Sent: true}) {
		t.Fatalf("sync-firmware = %+v, %v", fw, err)
	}
}

// Config names the running and candidate configurations and revisions of
// the history; any other name is invalid, a missing revision not found.
func TestConfigNames(t *testing.T) {
	b, _ := newBackend(t)
	running, info := b.Store.Running()
	for name, want := range map[string]*tandem.Device{
		"running":                       running,
		"candidate":                     b.Store.Candidate(),
		strconv.FormatUint(info.ID, 10): running,
	} {
		got, err := Config(b.Store, name)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Config(%q) = %v, %v; want the %s configuration", name, got, err, name)
		}
	}
	if _, err := Config(b.Store, "latest"); KindOf(err) != KindInvalid {
		t.Errorf("Config(latest): %v, want an invalid-name error", err)
	}
	if _, err := Config(b.Store, "999"); !errors.Is(err, store.ErrNoSuchRevision) {
		t.Errorf("Config(999): %v, want store.ErrNoSuchRevision", err)
	}
}

// SPEC: CFG-6
// upgrade-firmware is for admins, on any unit; it needs an image, and a
// daemon that cannot upgrade itself says so.
func TestUpgradeFirmwareOperation(t *testing.T) {
	b, _ := newBackend(t)
	ctx := context.Background()
	image := json.RawMessage(`{"image":"/tmp/tandemd-next"}`)
	if _, err := b.Operate(ctx, "upgrade-firmware", Call{Principal: operator, Input: image}); KindOf(err) != KindForbidden {
		t.Errorf("operator upgrade = %v, want forbidden", err)
	}
	if _, err := b.Operate(ctx, "upgrade-firmware", Call{Principal: annAdmin, Input: image}); KindOf(err) != KindUnavailable {
		t.Errorf("upgrade without an upgrader = %v, want unavailable", err)
	}
	var got string
	b.Upgrade = func(_ context.Context, image string) (UpgradeOutput, error) {
		got = image
		return UpgradeOutput{PreviousVersion: "0.1.0", Version: "0.2.0"}, nil
	}
	if _, err := b.Operate(ctx, "upgrade-firmware", Call{Principal: annAdmin}); KindOf(err) != KindInvalid || !strings.Contains(err.Error(), "input/image") {
		t.Errorf("upgrade without image = %v, want invalid naming input/image", err)
	}
	b.MayConfigure = func() error { return errors.New("this unit is the standby") }
	out, err := b.Operate(ctx, "upgrade-firmware", Call{Principal: annAdmin, Input: image})
	if err != nil || got != "/tmp/tandemd-next" || out.(UpgradeOutput).Version != "0.2.0" {
		t.Errorf("upgrade on a standby = %+v, %v (image %q); want it run", out, err, got)
	}
}
