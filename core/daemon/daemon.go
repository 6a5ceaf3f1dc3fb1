// Package daemon assembles tandemd: the datastore, validation, the state
// tree and event log, the plugin host, the reconciler and the local API,
// and the flow of revisions, roles and plugin events between them.
package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/core/alert"
	"github.com/tandem-ha/tandem/core/firmware"
	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/configsync"
	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/pluginhost"
	"github.com/tandem-ha/tandem/core/reconcile"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/northbound/service"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Version is the tandem version the daemon reports.
var Version = "0.1.0-dev"

// Config is how tandemd was started.
type Config struct {
	// DataDir holds config.db (the datastore) and events.db.
	DataDir string
	// PluginDir is scanned for plugin executables at start.
	PluginDir string
	// Socket is the local API's unix socket.
	Socket string
	// InitialConfig, when set, is an RFC 7951 JSON file that becomes the
	// first revision of a new datastore (ignored once one exists).
	InitialConfig string
	// SerialNumber identifies this unit; empty derives one from
	// /etc/machine-id.
	SerialNumber string
	// TLSCert and TLSKey are the northbound servers' certificate and key
	// files; empty generates a self-signed pair in DataDir/tls.
	TLSCert, TLSKey string
	// Northbounds are the management API servers to run besides the
	// local socket: REST, NETCONF, gNMI.
	Northbounds []Northbound
	// Logger receives the daemon's logs.
	Logger *slog.Logger
	// Executable is the daemon's own executable, which upgrade-firmware
	// replaces (CFG-6); empty refuses upgrades.
	Executable string
}

// Northbound is a management API server the daemon runs.
type Northbound interface {
	// Name names the server in logs, such as "rest".
	Name() string
	// Serve serves from b until ctx ends. An error while ctx is still
	// live (a port in use) stops the daemon.
	Serve(ctx context.Context, b *service.Backend) error
}

// Daemon is a running tandemd.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	boot   time.Time
	store  *store.Store
	tree   *telemetry.Tree
	events *telemetry.EventLog
	host   *pluginhost.Host
	rec    *reconcile.Reconciler
	ha     *ha.Engine
	sync   *configsync.Syncer
	alerts *alert.Notifier
	auth   *auth.Authenticator
	tls    *tls.Config

	mu      sync.Mutex
	running *tandem.Device
	links   map[string]bool

	// upgrading serialises upgrades; restart is closed (once) to stop
	// serving and restart into new firmware.
	upgrading   sync.Mutex
	restart     chan struct{}
	restartOnce sync.Once
}

// Run starts tandemd and serves until ctx ends (nil) or until an upgrade
// installed new firmware (ErrRestart: the caller executes
// Config.Executable again).
func Run(ctx context.Context, cfg Config) error {
	d, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.close()
	return d.serve(ctx)
}

func start(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SerialNumber == "" {
		cfg.SerialNumber = machineSerial()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	initial, err := initialConfig(cfg.InitialConfig)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, boot: time.Now(), links: map[string]bool{}, restart: make(chan struct{})}
	d.store, err = store.Open(filepath.Join(cfg.DataDir, "config.db"), store.Options{
		Validate: validate.StoreValidator, Initial: initial, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	d.tree = telemetry.NewTree(cfg.SerialNumber)
	running, info := d.store.Running()
	d.running = running
	d.events, err = telemetry.OpenEventLog(filepath.Join(cfg.DataDir, "events.db"),
		int(running.GetSystem().GetConfig().GetEventLogSize()), d.tree)
	if err != nil {
		d.store.Close()
		return nil, err
	}
	d.publishSystem(info)
	d.host = pluginhost.New(pluginhost.Config{Dir: cfg.PluginDir, Logger: cfg.Logger})
	d.rec = reconcile.New(reconcile.Config{
		Applier: d.host,
		Plugins: d.drivenPlugins,
		Self:    reconcile.Identity{SerialNumber: cfg.SerialNumber, DataDir: cfg.DataDir},
		State:   d.tree,
		Logger:  cfg.Logger,
	})
	d.ha, err = ha.New(ha.Options{
		Serial: cfg.SerialNumber, Firmware: Version, DataDir: cfg.DataDir, Logger: cfg.Logger,
		OnRole: func(role fsm.Role, reason string) {
			d.rec.SetRole(role)
			d.sync.Trigger()
		},
		OnEvent: func(kind, severity, msg string) {
			d.event(telemetry.Event{Type: kind, Severity: severity, Message: msg})
		},
		State:   d.tree,
		Prepare: d.prepareActive,
	})
	if err != nil {
		d.store.Close()
		d.events.Close()
		return nil, err
	}
	d.sync = configsync.New(configsync.Options{
		Serial: cfg.SerialNumber, Store: d.store, Logger: cfg.Logger, State: d.tree,
		Executable: cfg.Executable, Firmware: Version, FirmwareDir: cfg.DataDir,
		OnFirmware: func(ctx context.Context, image string) error {
			_, err := d.upgrade(ctx, image)
			return err
		},
		Role: func() string { return string(d.rec.Role()) },
		OnEvent: func(kind, severity, msg string) {
			d.event(telemetry.Event{Type: kind, Severity: severity, Message: msg})
		},
	})
	if d.auth, err = auth.New(cfg.DataDir); err != nil {
		d.close()
		return nil, err
	}
	d.auth.Follow(d.store)
	if d.tls, err = auth.TLS(cfg.DataDir, cfg.TLSCert, cfg.TLSKey); err != nil {
		d.close()
		return nil, err
	}
	d.alerts = alert.New(alert.Config{Unit: cfg.SerialNumber, Version: Version, Events: d.events, Logger: cfg.Logger, Syslog: true})
	d.setWebhook(running)
	if err := d.host.Start(ctx); err != nil {
		d.close()
		return nil, fmt.Errorf("plugins: %w", err)
	}
	if len(d.pluginsOf(sdk.KindStatesync)) == 0 {
		d.ha.BulkSync(true) // no sync plugin: nothing to wait for
	}
	d.rec.SetRole(roleFor(running, d.rec.Role()))
	d.ha.Configure(running)
	d.sync.Configure(running)
	if err := d.rec.SetConfig(running, info.ID); err != nil {
		d.close()
		return nil, err
	}
	d.event(telemetry.Event{Type: "daemon-start", Message: fmt.Sprintf("tandemd %s started on unit %s at revision %d", Version, cfg.SerialNumber, info.ID)})
	return d, nil
}

func (d *Daemon) serve(ctx context.Context) error {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); wg.Wait() }()
	wg.Add(6)
	go func() { defer wg.Done(); d.rec.Run(ctx) }()
	go func() { defer wg.Done(); d.ha.Run(ctx) }()
	go func() { defer wg.Done(); d.sync.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := d.alerts.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("alerts stopped", "err", err)
		}
	}()
	go func() { defer wg.Done(); d.followRevisions(ctx) }()
	go func() { defer wg.Done(); d.followPlugins(ctx) }()
	backend := &service.Backend{
		Store: d.store, Tree: d.tree, Events: d.events, Status: d.status, HA: d.ha, Logger: d.log,
		MayConfigure: d.mayConfigure, Sync: d.sync, Join: d.Join, Auth: d.auth, TLS: d.tls, Firmware: Version,
		Upgrade: d.upgrade,
	}
	failed := make(chan error, len(d.cfg.Northbounds)+1)
	for _, nb := range d.cfg.Northbounds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nb.Serve(ctx, backend); err != nil && ctx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", nb.Name(), err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := local.NewServer(backend).Serve(ctx, d.cfg.Socket); err != nil && ctx.Err() == nil {
			failed <- err
		}
	}()
	d.log.Info("tandemd serving", "socket", d.cfg.Socket, "unit", d.cfg.SerialNumber, "plugins", len(d.host.Plugins()), "northbounds", len(d.cfg.Northbounds))
	select {
	case <-ctx.Done():
		return nil
	case <-d.restart:
		return ErrRestart
	case err := <-failed:
		return err
	}
}

func (d *Daemon) close() {
	d.host.Stop()
	if err := d.events.Close(); err != nil {
		d.log.Warn("closing event log", "err", err)
	}
	if err := d.store.Close(); err != nil {
		d.log.Warn("closing datastore", "err", err)
	}
}

// initialConfig reads and validates the -config file, if any.
func initialConfig(path string) (*tandem.Device, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("initial configuration: %w", err)
	}
	dev, err := model.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("initial configuration %s: %w", path, err)
	}
	if err := validate.Validate(dev).Err(); err != nil {
		return nil, fmt.Errorf("initial configuration %s is invalid:\n%w", path, err)
	}
	return dev, nil
}

// machineSerial derives a stable serial number from /etc/machine-id.
func machineSerial() string {
	id, err := os.ReadFile("/etc/machine-id")
	if err != nil || len(strings.TrimSpace(string(id))) == 0 {
		host, _ := os.Hostname()
		id = []byte(host)
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(id))))
	return "T" + strings.ToUpper(hex.EncodeToString(sum[:6]))
}

// roleFor is the role a new revision implies before the HA engine says
// otherwise: standalone when HA is off; initializing, which never claims
// virtual addresses, when HA was just turned on; else the current role,
// which the engine owns.
func roleFor(d *tandem.Device, current fsm.Role) fsm.Role {
	switch {
	case d.GetHa().GetConfig().GetMode() == tandem.TandemHa_HaMode_standalone:
		return fsm.RoleStandalone
	case current == fsm.RoleStandalone:
		return fsm.RoleInitializing
	}
	return current
}

// drivenPlugins lists the plugins the reconciler drives: the one platform
// driver chosen by /platform/config (driver, else the one claiming the
// model) and every plugin of another kind.
func (d *Daemon) drivenPlugins() []reconcile.Plugin {
	d.mu.Lock()
	plat := d.running.GetPlatform().GetConfig()
	d.mu.Unlock()
	var out []reconcile.Plugin
	chosen := false
	for _, p := range d.host.Plugins() {
		if p.Kind == sdk.KindPlatform {
			if chosen || !claims(p, plat.GetDriver(), plat.GetModel()) {
				continue
			}
			chosen = true
		}
		out = append(out, reconcile.Plugin{Name: p.Name, Kind: p.Kind})
	}
	return out
}

func claims(p pluginhost.Status, driver, model string) bool {
	if driver != "" {
		return p.Name == driver
	}
	for _, claimed := range p.Platforms {
		if claimed == model {
			return true
		}
	}
	return false
}

// followRevisions hands every new running revision to the reconciler and
// logs it.
func (d *Daemon) followRevisions(ctx context.Context) {
	ch, cancel := d.store.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case info := <-ch:
			running, cur := d.store.Running()
			d.mu.Lock()
			d.running = running
			d.mu.Unlock()
			d.rec.SetRole(roleFor(running, d.rec.Role()))
			d.ha.Configure(running)
			d.sync.Configure(running)
			d.setWebhook(running)
			if err := d.rec.SetConfig(running, cur.ID); err != nil {
				d.log.Error("reconcile", "err", err)
			}
			d.publishSystem(cur)
			d.event(revisionEvent(info))
		}
	}
}

func revisionEvent(info store.RevisionInfo) telemetry.Event {
	e := telemetry.Event{
		Type:    "commit",
		Message: fmt.Sprintf("revision %d committed by %s via %s", info.ID, info.Author, info.Origin),
		Attrs:   map[string]string{"revision": fmt.Sprint(info.ID), "author": info.Author, "origin": info.Origin},
	}
	if info.Comment != "" {
		e.Message += ": " + info.Comment
	}
	switch info.Origin {
	case "confirm-timeout":
		e.Type, e.Severity = "commit-rolled-back", telemetry.SeverityWarning
	case "rollback":
		e.Type = "rollback"
	}
	if info.PendingConfirm {
		e.Message += " (pending confirmation)"
	}
	return e
}

// followPlugins re-applies intents to (re)started plugins, publishes
// plugin status, and turns link observations into state and events.
func (d *Daemon) followPlugins(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-d.host.Events():
			if !ok {
				return
			}
			switch ev.Type {
			case pluginhost.EventStarted:
				d.rec.Enqueue(ev.Plugin)
				d.publishPlugin(ev.Status)
				if ev.Restarted {
					d.event(telemetry.Event{Type: "plugin-restarted", Severity: telemetry.SeverityWarning,
						Message: fmt.Sprintf("plugin %s restarted (restart %d, pid %d); intent re-applied", ev.Plugin, ev.Status.Restarts, ev.Status.PID)})
				}
			case pluginhost.EventStateChanged:
				d.publishPlugin(ev.Status)
				switch ev.Status.State {
				case pluginhost.StateBackoff:
					d.event(telemetry.Event{Type: "plugin-crashed", Severity: telemetry.SeverityError,
						Message: fmt.Sprintf("plugin %s stopped: %s", ev.Plugin, ev.Status.LastError)})
				case pluginhost.StateFailed:
					d.event(telemetry.Event{Type: "plugin-failed", Severity: telemetry.SeverityError,
						Message: fmt.Sprintf("plugin %s failed too often and is no longer restarted: %s", ev.Plugin, ev.Status.LastError)})
				}
			case pluginhost.EventObservation:
				o := ev.Observation
				switch {
				case o.GetLink() != nil:
					d.linkChanged(o.GetLink(), sdk.ObservationTime(o))
				case o.GetSync() != nil:
					d.syncChanged(o.GetSync())
				case o.GetPluginEvent() != nil:
					pe := o.GetPluginEvent()
					d.event(telemetry.Event{Type: pe.GetType(), Severity: pe.GetSeverity(), Message: pe.GetMessage(),
						Attrs: map[string]string{"plugin": ev.Plugin}})
				}
			}
		}
	}
}

func (d *Daemon) linkChanged(link *sdk.LinkEvent, at time.Time) {
	base := fmt.Sprintf("/interfaces/interface[name=%s]/state/", link.GetPort())
	status := "down"
	if link.GetUp() {
		status = "up"
	}
	d.mu.Lock()
	was, known := d.links[link.GetPort()]
	d.links[link.GetPort()] = link.GetUp()
	states := maps.Clone(d.links)
	d.mu.Unlock()
	d.ha.LinkStates(states)
	d.update(base+"oper-status", status)
	d.update(base+"last-change", at.UTC().Format(time.RFC3339Nano))
	if link.GetMac() != "" {
		d.update(base+"mac-address", link.GetMac())
	}
	if !known || was == link.GetUp() {
		return // the first report of a port is its state, not a change
	}
	sev := telemetry.SeverityInfo
	if !link.GetUp() {
		sev = telemetry.SeverityWarning
	}
	d.event(telemetry.Event{Type: "link-" + status, Severity: sev,
		Message: fmt.Sprintf("link %s (%s) is %s", link.GetPort(), link.GetNetdev(), status),
		Attrs:   map[string]string{"port": link.GetPort(), "netdev": link.GetNetdev()}})
}

// syncChanged publishes the stateful sync plugin's progress (OBS-1) and
// hands its bulk sync status to the HA engine (SYNC-7).
func (d *Daemon) syncChanged(st *sdk.SyncStatus) {
	d.ha.BulkSync(st.GetBulkSyncComplete())
	d.update("/statesync/state/bulk-sync-complete", st.GetBulkSyncComplete())
	for _, c := range st.GetChannels() {
		entry := fmt.Sprintf("/statesync/channels/channel[name=%s]", c.GetName())
		base := entry + "/state/"
		d.update(entry+"/name", c.GetName())
		d.update(base+"name", c.GetName())
		d.update(base+"entries", c.GetEntries())
		d.update(base+"sent-sequence", c.GetSentSequence())
		d.update(base+"acked-sequence", c.GetAckedSequence())
		d.update(base+"lag", c.GetLagMicroseconds())
		d.update(base+"losses", c.GetLosses())
		d.update(base+"resyncs", c.GetResyncs())
		d.update(base+"overruns", c.GetOverruns())
		d.update(base+"bytes-sent", c.GetBytesSent())
		d.update(base+"record-rate", c.GetRecordRate())
		d.update(base+"byte-rate", c.GetByteRate())
	}
}

// pluginsOf names the plugins of a kind.
func (d *Daemon) pluginsOf(kind sdk.Kind) []string {
	var out []string
	for _, p := range d.host.Plugins() {
		if p.Kind == kind {
			out = append(out, p.Name)
		}
	}
	return out
}

// prepareActive is the takeover ordering (issue 4 item 6): before this
// unit becomes active, every stateful sync plugin confirms that the
// state it received is installed.
func (d *Daemon) prepareActive(ctx context.Context) error {
	var errs []error
	for _, name := range d.pluginsOf(sdk.KindStatesync) {
		res, err := d.host.PrepareActive(ctx, name)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !res.GetReady():
			errs = append(errs, fmt.Errorf("plugin %s not ready: %s", name, res.GetDetail()))
		case res.GetDetail() != "":
			d.log.Info("takeover prepared", "plugin", name, "detail", res.GetDetail())
		}
	}
	return errors.Join(errs...)
}

func (d *Daemon) publishPlugin(st pluginhost.Status) {
	entry := fmt.Sprintf("/system/plugins/plugin[name=%s]", st.Name)
	base := entry + "/state/"
	d.update(entry+"/name", st.Name)
	d.update(base+"name", st.Name)
	d.update(base+"kind", kindName(st.Kind))
	d.update(base+"version", st.Version)
	d.update(base+"path", st.Path)
	d.update(base+"pid", uint32(st.PID))
	d.update(base+"status", statusName(st.State))
	d.update(base+"restarts", uint32(st.Restarts))
}

func (d *Daemon) publishSystem(info store.RevisionInfo) {
	d.update("/system/state/serial-number", d.cfg.SerialNumber)
	d.update("/system/state/software-version", Version)
	d.update("/system/state/boot-time", d.boot.UTC().Format(time.RFC3339))
	d.update("/system/state/running-revision", info.ID)
	if b, err := firmware.ReadBackup(d.backupDir()); err == nil {
		d.publishBackup(b)
	}
}

func (d *Daemon) update(path string, v any) {
	if err := d.tree.Update(path, v); err != nil {
		d.log.Debug("state update refused", "path", path, "err", err)
	}
}

func (d *Daemon) event(e telemetry.Event) {
	if _, err := d.events.Append(e); err != nil {
		d.log.Warn("event log", "err", err)
	}
	d.log.Info(e.Message, "event", e.Type)
}

// Join makes this unit a member of the pair whose active member answers at
// peer (CFG-8): it puts its own address on the HA control port so that it
// can reach the active, fetches the active's configuration under the
// pre-shared key, checks that this unit is one of its members (CFG-7),
// and commits it. The active is not disturbed: this unit starts as a
// standby that receives every later revision by config sync.
func (d *Daemon) Join(ctx context.Context, req service.JoinRequest) (string, error) {
	if st := d.ha.Status(ctx); st.Running {
		return "", fmt.Errorf("this unit already runs in a pair (%s); remove it from the pair first", st.Self.Role)
	}
	peer, err := netip.ParseAddrPort(req.Peer)
	if err != nil {
		a, aerr := netip.ParseAddr(req.Peer)
		if aerr != nil {
			return "", fmt.Errorf("peer %q: give the active's HA control address, such as 169.254.10.1", req.Peer)
		}
		peer = netip.AddrPortFrom(a, 8734)
	}
	meta := store.Meta{Author: "join", Origin: "join"}
	meta.Comment = fmt.Sprintf("join: own address %s on %s to reach %s", req.Address, req.Port, peer)
	if _, err := d.store.Update(ctx, "join", meta, func(dev *tandem.Device) error {
		if err := model.Set(dev, "/interfaces/interface[name="+req.Port+"]/config/ipv4-address", mustJSON([]string{req.Address})); err != nil {
			return err
		}
		return model.Set(dev, "/interfaces/interface[name="+req.Port+"]/config/enabled", []byte("true"))
	}); err != nil {
		return "", fmt.Errorf("join: %w", err)
	}
	var fetched configsync.Peer
	deadline := time.Now().Add(10 * time.Second)
	for {
		fetched, err = configsync.Fetch(ctx, peer.String(), d.cfg.SerialNumber, req.Key)
		if err == nil || errors.Is(err, configsync.ErrAuth) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // the address is being applied
	}
	if err != nil {
		return "", fmt.Errorf("join: fetching the configuration from %s: %w", peer, err)
	}
	if fetched.Config.GetHa().GetDevices().GetDevice(d.cfg.SerialNumber) == nil {
		return "", fmt.Errorf("join: this unit (serial %s) is not a member of %s's pair: too many members; remove the failed member's serial and add this one on the active (/ha/devices), then join again (CFG-7)", d.cfg.SerialNumber, fetched.Serial)
	}
	meta.Comment = fmt.Sprintf("joined the pair of %s (its revision %d)", fetched.Serial, fetched.Revision)
	if _, err := d.store.Update(ctx, "join", meta, func(dev *tandem.Device) error {
		*dev = *fetched.Config
		return nil
	}); err != nil {
		return "", fmt.Errorf("join: the active's configuration does not validate here: %w", err)
	}
	d.event(telemetry.Event{Type: "peer-joined", Message: fmt.Sprintf("joined the pair of %s", fetched.Serial)})
	return fetched.Serial, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// setWebhook points the alerts at /system/config/alert-webhook (OBS-3).
func (d *Daemon) setWebhook(running *tandem.Device) {
	if err := d.alerts.SetWebhook(running.GetSystem().GetConfig().GetAlertWebhook()); err != nil {
		d.log.Warn("alert webhook", "err", err)
	}
}

// mayConfigure refuses configuration changes on a standby (CFG-1): the
// configuration is changed on the active, which syncs it to the standby.
func (d *Daemon) mayConfigure() error {
	if d.rec.Role() != fsm.RoleStandby {
		return nil
	}
	active := "the active unit"
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if st := d.ha.Status(ctx); st.Peer != nil && st.Peer.Role == string(fsm.RoleActive) {
		active = "the active unit " + st.Peer.Serial
	}
	return fmt.Errorf("this unit (%s) is the standby: change the configuration on %s, which syncs it here (CFG-1)", d.cfg.SerialNumber, active)
}

// status is the unit summary of the local API.
func (d *Daemon) status() service.Status {
	running, info := d.store.Running()
	conds := d.rec.Conditions()
	st := service.Status{
		Unit:           d.cfg.SerialNumber,
		SerialNumber:   d.cfg.SerialNumber,
		Version:        Version,
		BootTime:       d.boot,
		Mode:           running.GetHa().GetConfig().GetMode().String(),
		Role:           string(d.rec.Role()),
		Running:        info,
		CandidateDirty: d.store.CandidateDirty(),
	}
	for _, p := range d.host.Plugins() {
		c := conds[p.Name]
		lastErr := c.LastError
		if lastErr == "" && p.State != pluginhost.StateRunning {
			lastErr = p.LastError // why it is down
		}
		st.Plugins = append(st.Plugins, service.PluginStatus{
			Name: p.Name, Kind: kindName(p.Kind), Version: p.Version, PID: p.PID,
			State: string(p.State), Restarts: p.Restarts,
			AppliedRevision: c.AppliedRevision, AppliedRole: string(c.AppliedRole),
			LastApplied: c.LastApplied, LastError: lastErr,
		})
	}
	return st
}

func kindName(k sdk.Kind) string {
	switch k {
	case sdk.KindPlatform:
		return "platform"
	case sdk.KindStatesync:
		return "statesync"
	case sdk.KindSVRRP:
		return "svrrp"
	case sdk.KindDPI:
		return "dpi"
	}
	return "unknown"
}

// statusName maps a host state to the YANG plugin status enum.
func statusName(s pluginhost.State) string {
	switch s {
	case pluginhost.StateRunning, pluginhost.StateBackoff, pluginhost.StateFailed:
		return string(s)
	}
	return "starting"
}
