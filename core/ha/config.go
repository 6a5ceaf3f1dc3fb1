package ha

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// pathConfig is one heartbeat path: the HA control link or the backup.
type pathConfig struct {
	name        fsm.Path
	function    string // YANG link function: control or backup-control
	local, peer netip.AddrPort
}

// setup is everything the engine takes from the running configuration.
type setup struct {
	machine fsm.Config
	paths   []pathConfig
	psk     string
	encrypt bool
}

// errNotPaired says the configuration runs no HA pair on this unit.
var errNotPaired = errors.New("no HA pair")

// fromConfig derives the engine's setup for the unit serial from d. It
// returns errNotPaired (wrapped, with the reason) when HA does not run.
func fromConfig(d *tandem.Device, serial, firmware string) (setup, error) {
	ha := d.GetHa().GetConfig()
	switch ha.GetMode() {
	case tandem.TandemHa_HaMode_active_standby, tandem.TandemHa_HaMode_active_active_dpi:
	default:
		return setup{}, fmt.Errorf("%w: mode is %s", errNotPaired, ha.GetMode())
	}
	dev := d.GetHa().GetDevices().GetDevice(serial).GetConfig()
	if dev == nil {
		return setup{}, fmt.Errorf("%w: this unit (serial %s) is not in /ha/devices", errNotPaired, serial)
	}
	if ha.GetPreSharedKey() == "" {
		return setup{}, fmt.Errorf("%w: /ha/config/pre-shared-key is not set; heartbeats are never sent unauthenticated", errNotPaired)
	}
	primary := dev.GetDesignation() == tandem.TandemTypes_UnitDesignation_primary
	s := setup{psk: ha.GetPreSharedKey(), encrypt: ha.GetEncryption()}
	m := fsm.Config{
		Serial:            serial,
		Designation:       fsm.Secondary,
		Model:             dev.GetModel(),
		Firmware:          firmware,
		HeartbeatInterval: time.Duration(ha.GetHeartbeatInterval()) * time.Millisecond,
		TriggerLevel:      int(ha.GetFailoverTriggerLevel()),
		ElectionDelay:     time.Duration(ha.GetElectionDelay()) * time.Second,
		Preempt:           ha.GetPreempt(),
		PreemptHoldTime:   time.Duration(ha.GetPreemptHoldTime()) * time.Second,
		Hysteresis:        int(ha.GetQualityHysteresis()),
		ActiveIfEqual:     fsm.ActiveIfEqual(ha.GetActiveIfEqual().String()),
		Forced:            fsm.Forced(dev.GetForcedStatus().String()),
		StatefulSync:      ha.GetStatefulSync(),
	}
	if primary {
		m.Designation = fsm.Primary
	}
	if m.Model == "" {
		m.Model = d.GetPlatform().GetConfig().GetModel()
	}
	if mon := d.GetMonitoring().GetInterfaces(); mon != nil {
		for name, ifc := range mon.Interface {
			cfg := ifc.GetConfig()
			probe := ifc.GetIpv4().GetConfig().GetLogicalProbe() || ifc.GetIpv6().GetConfig().GetLogicalProbe()
			if !cfg.GetPhysicalMonitoring() && !probe {
				continue
			}
			m.Interfaces = append(m.Interfaces, fsm.Interface{
				Name: name, Weight: int(cfg.GetWeight()), Physical: cfg.GetPhysicalMonitoring(), Probe: probe,
			})
		}
	}
	sort.Slice(m.Interfaces, func(i, j int) bool { return m.Interfaces[i].Name < m.Interfaces[j].Name })
	s.machine = m
	for _, p := range []struct {
		fn   tandem.E_TandemHa_HaLinkFunction
		name fsm.Path
	}{{tandem.TandemHa_HaLinkFunction_control, fsm.PathControl}, {tandem.TandemHa_HaLinkFunction_backup_control, fsm.PathBackup}} {
		link := d.GetHa().GetLinks().GetLink(p.fn).GetConfig()
		own, peer := link.GetSecondaryAddress(), link.GetPrimaryAddress()
		if primary {
			own, peer = peer, own
		}
		lp, err1 := netip.ParsePrefix(own)
		pp, err2 := netip.ParsePrefix(peer)
		if link == nil || err1 != nil || err2 != nil {
			continue
		}
		port := link.GetUdpPort()
		s.paths = append(s.paths, pathConfig{
			name: p.name, function: p.fn.String(),
			local: netip.AddrPortFrom(lp.Addr(), port), peer: netip.AddrPortFrom(pp.Addr(), port),
		})
	}
	if len(s.paths) == 0 {
		return setup{}, fmt.Errorf("%w: no HA link has both units' addresses (/ha/links/link[function=control])", errNotPaired)
	}
	return s, nil
}
