package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/northbound/auth"
)

// Module is the YANG module that declares the operations.
const Module = "tandem-operations"

// Call is one invocation of an operation.
type Call struct {
	// Principal is the authenticated caller.
	Principal auth.Principal
	// Session is the caller's datastore session (candidate and locks),
	// such as "rest:alice" or "netconf:17".
	Session string
	// Origin is the northbound, recorded with revisions: rest, netconf,
	// gnmi or cli.
	Origin string
	// Input is the operation's input as RFC 7951 JSON: the members of
	// the rpc's input, without the module prefix; nil when none.
	Input json.RawMessage
}

// Operation is one rpc of the tandem-operations module.
type Operation struct {
	// Name is the rpc name.
	Name string
	// Need is the user permission the operation needs.
	Need auth.Permission
	// ActiveOnly refuses the operation on a unit that is not the active
	// (or standalone) one: CFG-1 for configuration changes, CLU-11 for
	// synchronize settings and firmware.
	ActiveOnly bool
	run        func(ctx context.Context, b *Backend, c Call) (any, error)
}

// Operations lists every operation, in the order of the YANG module.
func Operations() []Operation { return operations }

// LookupOperation returns the named operation.
func LookupOperation(name string) (Operation, bool) {
	i := slices.IndexFunc(operations, func(o Operation) bool { return o.Name == name })
	if i < 0 {
		return Operation{}, false
	}
	return operations[i], true
}

var operations = []Operation{
	{Name: "failover", Need: auth.Operate, ActiveOnly: true, run: admin(fsm.Command("failover"))},
	{Name: "force-active", Need: auth.Operate, run: admin(fsm.Command("force-active"))},
	{Name: "force-standby", Need: auth.Operate, run: admin(fsm.Command("force-standby"))},
	{Name: "reset", Need: auth.Operate, run: admin(fsm.Command("reset"))},
	{Name: "sync-settings", Need: auth.Operate, ActiveOnly: true, run: syncSettings},
	{Name: "sync-firmware", Need: auth.Operate, ActiveOnly: true, run: syncFirmware},
	{Name: "upgrade-firmware", Need: auth.Configure, run: upgradeFirmware},
	{Name: "sync-test", Need: auth.Read, run: syncTest},
	{Name: "config-diff", Need: auth.Read, run: configDiff},
	{Name: "join", Need: auth.Configure, run: join},
	{Name: "remove-member", Need: auth.Configure, ActiveOnly: true, run: removeMember},
	{Name: "apply-licence-keyset", Need: auth.Configure, ActiveOnly: true, run: applyKeyset},
	{Name: "commit", Need: auth.Configure, ActiveOnly: true, run: commit},
	{Name: "confirm", Need: auth.Configure, ActiveOnly: true, run: confirm},
	{Name: "cancel-commit", Need: auth.Configure, ActiveOnly: true, run: cancelCommit},
	{Name: "discard", Need: auth.Configure, run: discard},
	{Name: "validate", Need: auth.Read, run: validateCandidate},
	{Name: "rollback", Need: auth.Configure, ActiveOnly: true, run: rollback},
}

// Operate runs the named operation for c after checking the caller's
// role and this unit's HA role. The result is the rpc's output (encode
// it as JSON), nil when the rpc has none.
func (b *Backend) Operate(ctx context.Context, name string, c Call) (any, error) {
	op, ok := LookupOperation(name)
	if !ok {
		return nil, Errorf(KindNotFound, "operation %q: no such operation in %s", name, Module)
	}
	what := Module + ":" + name
	if err := c.Principal.Check(op.Need, what); err != nil {
		return nil, err
	}
	if op.ActiveOnly && b.MayConfigure != nil {
		if err := b.MayConfigure(); err != nil {
			return nil, &RefusedError{What: what, Reason: err.Error()}
		}
	}
	return op.run(ctx, b, c)
}

// decodeInput fills v from c.Input, refusing unknown members.
func decodeInput(c Call, v any) error {
	if len(c.Input) == 0 || string(c.Input) == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(c.Input)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(KindInvalid, "input: %v", err)
	}
	return nil
}

// need reports the first empty mandatory input field.
func need(fields ...[2]string) error {
	for _, f := range fields {
		if f[1] == "" {
			return Errorf(KindInvalid, "input/%s: missing; it is mandatory", f[0])
		}
	}
	return nil
}

func admin(cmd fsm.Command) func(context.Context, *Backend, Call) (any, error) {
	return func(ctx context.Context, b *Backend, c Call) (any, error) {
		if st := b.HA.Status(ctx); !st.Running {
			return nil, Errorf(KindConflict, "%s: the HA pair is not running (%s)", cmd, st.Reason)
		}
		if err := b.HA.Admin(cmd); err != nil {
			return nil, &Error{Kind: KindUnavailable, Err: err}
		}
		return nil, nil
	}
}

// SyncSettingsOutput is the output of sync-settings.
type SyncSettingsOutput struct {
	Mode     string `json:"mode"`
	Revision uint64 `json:"revision"`
}

func syncSettings(ctx context.Context, b *Backend, c Call) (any, error) {
	var in struct {
		IncludeCertificates bool `json:"include-certificates"`
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	out, err := b.Sync.SyncNow(ctx)
	if err != nil {
		return nil, &Error{Kind: KindUnavailable, Err: err}
	}
	return SyncSettingsOutput{Mode: out.Mode, Revision: out.PeerRevision}, nil
}

// SyncFirmwareOutput is the output of sync-firmware.
type SyncFirmwareOutput struct {
	LocalVersion string `json:"local-version"`
	PeerVersion  string `json:"peer-version"`
	InSync       bool   `json:"in-sync"`
	Sent         bool   `json:"sent"`
}

func syncFirmware(ctx context.Context, b *Backend, c Call) (any, error) { return b.SyncFirmware(ctx) }

// SyncFirmware sends this unit's firmware to a peer that runs another
// (CFG-3, sync-firmware); the caller has checked the user's role.
func (b *Backend) SyncFirmware(ctx context.Context) (SyncFirmwareOutput, error) {
	st := b.HA.Status(ctx)
	if st.Peer == nil {
		return SyncFirmwareOutput{}, Errorf(KindUnavailable, "sync-firmware: no peer is heard on any HA link")
	}
	out := SyncFirmwareOutput{LocalVersion: b.Firmware, PeerVersion: st.Peer.Firmware, InSync: b.Firmware == st.Peer.Firmware}
	if out.InSync {
		return out, nil
	}
	if err := b.Sync.PushFirmware(ctx); err != nil {
		return out, &Error{Kind: KindUnavailable, Err: fmt.Errorf("sync-firmware: %w", err)}
	}
	out.Sent = true
	return out, nil
}

// UpgradeOutput is the output of upgrade-firmware.
type UpgradeOutput struct {
	PreviousVersion string `json:"previous-version"`
	Version         string `json:"version"`
	Backup          string `json:"backup,omitempty"`
	SwitchedOver    bool   `json:"switched-over"`
}

func upgradeFirmware(ctx context.Context, b *Backend, c Call) (any, error) {
	var in struct {
		Image string `json:"image"`
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	if err := need([2]string{"image", in.Image}); err != nil {
		return nil, err
	}
	if b.Upgrade == nil {
		return nil, Errorf(KindUnavailable, "upgrade-firmware: this daemon cannot upgrade itself")
	}
	return b.Upgrade(ctx, in.Image)
}

func syncTest(ctx context.Context, b *Backend, c Call) (any, error) {
	res, err := b.Sync.Test(ctx)
	if err != nil {
		return nil, &Error{Kind: KindUnavailable, Err: err}
	}
	return res, nil
}

// ConfigDiffOutput is the output of config-diff.
type ConfigDiffOutput struct {
	Peer    string         `json:"peer"`
	Changes []model.Change `json:"changes"`
}

func configDiff(ctx context.Context, b *Backend, c Call) (any, error) {
	peer, changes, err := b.Sync.Diff(ctx)
	if err != nil {
		return nil, &Error{Kind: KindUnavailable, Err: err}
	}
	return ConfigDiffOutput{Peer: peer, Changes: changes}, nil
}

func join(ctx context.Context, b *Backend, c Call) (any, error) {
	var in JoinRequest
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	if err := need([2]string{"peer", in.Peer}, [2]string{"key", in.Key}, [2]string{"port", in.Port}, [2]string{"address", in.Address}); err != nil {
		return nil, err
	}
	active, err := b.Join(ctx, in)
	if err != nil {
		return nil, &Error{Kind: KindConflict, Err: err}
	}
	return map[string]string{"active": active}, nil
}

// RevisionOutput is the output of operations that commit.
type RevisionOutput struct {
	Revision uint64 `json:"revision"`
}

func removeMember(ctx context.Context, b *Backend, c Call) (any, error) {
	var in struct {
		Serial string `json:"serial-number"`
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	if err := need([2]string{"serial-number", in.Serial}); err != nil {
		return nil, err
	}
	info, err := b.Store.Update(ctx, c.Session, Meta(c.Principal, c.Origin, "remove member "+in.Serial), func(d *tandem.Device) error {
		if d.GetHa().GetDevices().GetDevice(in.Serial) == nil {
			return Errorf(KindNotFound, "remove-member: %s is not a member (/ha/devices/device)", in.Serial)
		}
		d.GetHa().GetDevices().DeleteDevice(in.Serial)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return RevisionOutput{Revision: info.ID}, nil
}

func applyKeyset(ctx context.Context, b *Backend, c Call) (any, error) {
	var in struct {
		Serial string `json:"serial-number"`
		Keyset string `json:"keyset"`
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	if err := need([2]string{"serial-number", in.Serial}, [2]string{"keyset", in.Keyset}); err != nil {
		return nil, err
	}
	path := fmt.Sprintf("/licensing/keysets/keyset[serial-number=%s]/config", in.Serial)
	info, err := b.Store.Update(ctx, c.Session, Meta(c.Principal, c.Origin, "licence keyset for "+in.Serial), func(d *tandem.Device) error {
		v, _ := json.Marshal(map[string]string{"serial-number": in.Serial, "keyset": in.Keyset})
		return model.Set(d, path, v)
	})
	if err != nil {
		return nil, err
	}
	return RevisionOutput{Revision: info.ID}, nil
}

func commit(ctx context.Context, b *Backend, c Call) (any, error) {
	var in struct {
		Comment        string `json:"comment"`
		ConfirmTimeout uint32 `json:"confirm-timeout"`
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	opts := store.CommitOptions{ConfirmTimeout: time.Duration(in.ConfirmTimeout) * time.Second}
	info, err := b.Store.Commit(ctx, c.Session, Meta(c.Principal, c.Origin, in.Comment), opts)
	if err != nil {
		return nil, err
	}
	return RevisionOutput{Revision: info.ID}, nil
}

func confirm(ctx context.Context, b *Backend, c Call) (any, error) {
	return nil, b.Store.Confirm(c.Session, Meta(c.Principal, c.Origin, "confirmed"))
}

func cancelCommit(ctx context.Context, b *Backend, c Call) (any, error) {
	info, err := b.Store.CancelConfirmed(c.Session, Meta(c.Principal, c.Origin, "cancel-commit"))
	if err != nil {
		return nil, err
	}
	return RevisionOutput{Revision: info.ID}, nil
}

func discard(ctx context.Context, b *Backend, c Call) (any, error) {
	return nil, b.Store.Discard(c.Session)
}

func validateCandidate(ctx context.Context, b *Backend, c Call) (any, error) {
	rep := validate.Validate(b.Store.Candidate())
	if err := rep.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

func rollback(ctx context.Context, b *Backend, c Call) (any, error) {
	var in struct {
		N       int    `json:"n"`
		Comment string `json:"comment"`
	}
	if err := decodeInput(c, &in); err != nil {
		return nil, err
	}
	if in.N < 1 {
		return nil, Errorf(KindInvalid, "input/n: %d; count revisions back from running, 1 or more", in.N)
	}
	meta := Meta(c.Principal, c.Origin, in.Comment)
	meta.Origin = "rollback"
	info, err := b.Store.Rollback(ctx, c.Session, in.N, meta)
	if err != nil {
		return nil, err
	}
	return RevisionOutput{Revision: info.ID}, nil
}
