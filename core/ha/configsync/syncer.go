package configsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/plugins/sdk/freebind"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// retryEvery is how often the active checks that the standby is in sync
// even when nothing was committed (the standby may have restarted).
const retryEvery = 3 * time.Second

// Options assemble a Syncer.
type Options struct {
	// Serial is this unit's serial number.
	Serial string
	// Store is this unit's datastore.
	Store *store.Store
	// Role returns this unit's HA role now.
	Role func() string
	// Logger receives the syncer's logs.
	Logger *slog.Logger
	// OnEvent receives events for the HA event log.
	OnEvent func(kind, severity, message string)
	// State receives the per-member sync status (CFG-4).
	State interface {
		Update(path string, v any) error
	}
	// Executable and Firmware are this unit's tandemd and its version,
	// which PushFirmware sends (CFG-3).
	Executable, Firmware string
	// FirmwareDir holds a received image until OnFirmware has installed
	// it; OnFirmware installs it and restarts into it. Without
	// OnFirmware this unit refuses firmware.
	FirmwareDir string
	OnFirmware  func(ctx context.Context, image string) error
}

// endpoints is where sync runs: this unit's and the peer's control link
// addresses, and the key.
type endpoints struct {
	listen, peer netip.AddrPort
	peerSerial   string
	key          string
	// previousKey is the key before the last change: pushes fall back to
	// it while the peer does not have the new one yet (SEC-1).
	previousKey string
}

// Syncer serves pushes while standby and pushes while active.
type Syncer struct {
	mu      sync.Mutex
	current endpoints // the endpoints Run works with, for the operations

	opts    Options
	log     *slog.Logger
	configs chan endpoints
	trigger chan struct{}
	lastErr string
}

// New returns a syncer; Run starts it.
func New(opts Options) *Syncer {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Syncer{opts: opts, log: opts.Logger.With("component", "configsync"),
		configs: make(chan endpoints, 1), trigger: make(chan struct{}, 1)}
}

// Configure derives the sync endpoints from the running configuration:
// the HA control link (else the backup link) addresses of both units.
func (s *Syncer) Configure(d *tandem.Device) {
	var ep endpoints
	ha := d.GetHa()
	self := ha.GetDevices().GetDevice(s.opts.Serial).GetConfig()
	mode := ha.GetConfig().GetMode()
	paired := mode == tandem.TandemHa_HaMode_active_standby || mode == tandem.TandemHa_HaMode_active_active_dpi
	if paired && self != nil && ha.GetConfig().GetPreSharedKey() != "" {
		ep.key = ha.GetConfig().GetPreSharedKey()
		if devs := ha.GetDevices(); devs != nil {
			for serial, dev := range devs.Device {
				if serial != s.opts.Serial && dev.GetConfig().GetClusterNode() == 0 {
					ep.peerSerial = serial
				}
			}
		}
		primary := self.GetDesignation() == tandem.TandemTypes_UnitDesignation_primary
		for _, fn := range []tandem.E_TandemHa_HaLinkFunction{tandem.TandemHa_HaLinkFunction_control, tandem.TandemHa_HaLinkFunction_backup_control} {
			link := ha.GetLinks().GetLink(fn).GetConfig()
			own, peer := link.GetSecondaryAddress(), link.GetPrimaryAddress()
			if primary {
				own, peer = peer, own
			}
			lp, err1 := netip.ParsePrefix(own)
			pp, err2 := netip.ParsePrefix(peer)
			if link != nil && err1 == nil && err2 == nil {
				ep.listen = netip.AddrPortFrom(lp.Addr(), link.GetUdpPort())
				ep.peer = netip.AddrPortFrom(pp.Addr(), link.GetUdpPort())
				break
			}
		}
	}
	for {
		select {
		case s.configs <- ep:
			s.Trigger()
			return
		default:
			select {
			case <-s.configs:
			default:
			}
		}
	}
}

// Trigger asks for a push now (a new revision, a role change).
func (s *Syncer) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Run serves and pushes until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	var ep endpoints
	stop := make(chan struct{}) // closed to end the current listener
	closed := make(chan struct{})
	close(closed) // no listener yet
	defer func() { close(stop); <-closed }()
	tick := time.NewTicker(retryEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case next := <-s.configs:
			switch {
			case next.key != ep.key && ep.key != "":
				next.previousKey = ep.key
			case next.key == ep.key:
				next.previousKey = ep.previousKey
			}
			s.mu.Lock()
			s.current = next
			s.mu.Unlock()
			if next.listen != ep.listen {
				// Wait for the old listener to close before binding again.
				close(stop)
				<-closed
				stop, closed = make(chan struct{}), make(chan struct{})
				if next.listen.IsValid() {
					go s.listen(ctx, stop, closed, next.listen)
				} else {
					close(closed)
				}
			}
			ep = next
		case <-s.trigger:
			s.pushOnce(ctx, ep)
		case <-tick.C:
			s.pushOnce(ctx, ep)
		}
	}
}

// endpoints returns the endpoints and key of the pair, or why there are none.
func (s *Syncer) endpoints() (endpoints, []byte, error) {
	s.mu.Lock()
	ep := s.current
	s.mu.Unlock()
	if !ep.peer.IsValid() {
		return ep, nil, errors.New("no HA pair with a control link to sync over")
	}
	key, err := deriveKey(ep.key)
	return ep, key, err
}

// SyncNow pushes the whole running configuration to the standby at once
// (CFG-3, "synchronize settings"); only the active may.
func (s *Syncer) SyncNow(ctx context.Context) (Outcome, error) {
	if r := s.opts.Role(); r != "active" {
		return Outcome{}, fmt.Errorf("synchronize settings runs on the active unit; this unit is %s", r)
	}
	ep, key, err := s.endpoints()
	if err != nil {
		return Outcome{}, err
	}
	out, err := pushSession(ctx, ep.peer.String(), s.opts.Serial, key, s.opts.Store, true)
	if err == nil && out.Mode != "" {
		_, info := s.opts.Store.Running()
		s.event("config-sync", "info", fmt.Sprintf("revision %d synced to %s on request (complete); its revision %d", info.ID, ep.peerSerial, out.PeerRevision))
	}
	return out, err
}

// TestResult is what a sync test found (CFG-4).
type TestResult struct {
	Peer     string        `json:"peer"`
	Address  string        `json:"address"`
	Revision uint64        `json:"peer_revision"`
	InSync   bool          `json:"in_sync"`
	Accepts  bool          `json:"peer_accepts_pushes"`
	Duration time.Duration `json:"duration_ns"`
}

// Test opens an authenticated session to the peer and reports whether the
// members' configurations are equal; nothing changes.
func (s *Syncer) Test(ctx context.Context) (TestResult, error) {
	ep, key, err := s.endpoints()
	if err != nil {
		return TestResult{}, err
	}
	start := time.Now()
	p, err := inspect(ctx, ep.peer.String(), s.opts.Serial, key, false)
	if err != nil {
		return TestResult{Address: ep.peer.String()}, err
	}
	running, _ := s.opts.Store.Running()
	h, err := Hash(running)
	return TestResult{Peer: p.Serial, Address: ep.peer.String(), Revision: p.Revision, InSync: h == p.Hash,
		Accepts: p.Accepting, Duration: time.Since(start)}, err
}

// Diff fetches the peer's running configuration and lists the leaves that
// differ from this unit's (CFG-4): what the peer has, as changes to ours.
func (s *Syncer) Diff(ctx context.Context) (string, []model.Change, error) {
	ep, key, err := s.endpoints()
	if err != nil {
		return "", nil, err
	}
	p, err := inspect(ctx, ep.peer.String(), s.opts.Serial, key, true)
	if err != nil {
		return "", nil, err
	}
	running, _ := s.opts.Store.Running()
	changes, err := model.Diff(running, p.Config)
	return p.Serial, changes, err
}

// pushOnce brings the standby in sync if this unit is active.
func (s *Syncer) pushOnce(ctx context.Context, ep endpoints) {
	if !ep.peer.IsValid() || s.opts.Role() != "active" {
		return
	}
	key, err := deriveKey(ep.key)
	if err != nil {
		return
	}
	out, err := pushTo(ctx, ep.peer.String(), s.opts.Serial, key, s.opts.Store)
	if err != nil && errors.Is(err, ErrAuth) && ep.previousKey != "" {
		// The peer does not have the new key yet: the push carries it.
		if prev, perr := deriveKey(ep.previousKey); perr == nil {
			out, err = pushTo(ctx, ep.peer.String(), s.opts.Serial, prev, s.opts.Store)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	base := fmt.Sprintf("/ha/devices/device[serial-number=%s]/state/", ep.peerSerial)
	if err != nil {
		if errors.Is(err, errNotAccepting) || s.lastErr == err.Error() {
			return
		}
		s.lastErr = err.Error()
		s.update(base+"config-in-sync", false)
		s.event("config-sync-failed", "warning", fmt.Sprintf("configuration not synced to %s: %v", ep.peerSerial, err))
		return
	}
	s.lastErr = ""
	_, info := s.opts.Store.Running()
	s.update(fmt.Sprintf("/ha/devices/device[serial-number=%s]/state/config-revision", s.opts.Serial), info.ID)
	s.update(base+"config-revision", out.PeerRevision)
	s.update(base+"config-in-sync", true)
	if out.Mode == "" {
		return
	}
	s.update(base+"last-config-sync", now)
	detail := out.Mode
	if out.Mode == ModeIncremental {
		detail = fmt.Sprintf("incremental, %d change(s)", out.Changes)
	}
	s.event("config-sync", "info", fmt.Sprintf("revision %d synced to %s (%s); its revision %d", info.ID, ep.peerSerial, detail, out.PeerRevision))
}

// listen accepts push sessions on this unit's control link address until
// stop is closed or ctx ends, and closes closed when it has let go of the
// address. Each session uses the key in force when it starts.
func (s *Syncer) listen(ctx context.Context, stop <-chan struct{}, closed chan<- struct{}, addr netip.AddrPort) {
	defer close(closed)
	lc := freebind.ListenConfig(addr.Addr())
	ln, err := lc.Listen(ctx, "tcp", addr.String())
	if err != nil {
		s.event("config-sync-failed", "error", fmt.Sprintf("config sync listener on %s: %v", addr, err))
		return
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		case <-done:
		}
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			ln.Close()
			return
		}
		_, key, err := s.endpoints()
		if err != nil {
			c.Close()
			continue
		}
		accepting := s.opts.Role() != "active"
		out, from, err := serve(ctx, c, s.opts.Serial, key, s.opts.Store, accepting, s.firmwareReceiver())
		switch {
		case err != nil:
			s.event("config-sync-failed", "warning", fmt.Sprintf("configuration push from %s refused: %v", orUnknown(from), err))
		case out.Mode != "":
			s.update(fmt.Sprintf("/ha/devices/device[serial-number=%s]/state/last-config-sync", s.opts.Serial), time.Now().UTC().Format(time.RFC3339Nano))
			s.event("config-sync", "info", fmt.Sprintf("configuration received from %s (%s) as revision %d", from, out.Mode, out.PeerRevision))
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown peer"
	}
	return s
}

func (s *Syncer) event(kind, severity, msg string) {
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(kind, severity, msg)
	}
}

func (s *Syncer) update(path string, v any) {
	if s.opts.State == nil {
		return
	}
	if err := s.opts.State.Update(path, v); err != nil {
		s.log.Debug("state update refused", "path", path, "err", err)
	}
}

// Fetch opens an authenticated session to the unit at addr (an active
// member's control link address) under the pre-shared key psk and returns
// its running configuration: how a new unit joins the pair (CFG-8).
func Fetch(ctx context.Context, addr, serial, psk string) (Peer, error) {
	key, err := deriveKey(psk)
	if err != nil {
		return Peer{}, err
	}
	return inspect(ctx, addr, serial, key, true)
}
