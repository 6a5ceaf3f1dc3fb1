package ha

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/ha/probe"
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
	// probes are the logical probes of this unit (DET-4), run with
	// probeTiming.
	probes      []probe.Target
	probeTiming probe.Config
	// held are the ports this unit holds down while it is not active
	// (TKO-6, held.go); settle is how long they still count as held after
	// it became active.
	held   map[string]bool
	settle time.Duration
}

// probeTargets lists the logical probes of one monitored interface: per
// address family with logical-probe on, from this unit's own monitoring
// address (MON-2) to the probe address (DET-4).
func probeTargets(port string, primary bool, ifc *tandem.TandemHaMonitoring_Monitoring_Interfaces_Interface) []probe.Target {
	var out []probe.Target
	for _, fam := range []struct {
		on                 bool
		primary, secondary string
		destination        string
	}{
		{ifc.GetIpv4().GetConfig().GetLogicalProbe(), ifc.GetIpv4().GetConfig().GetPrimaryAddress(), ifc.GetIpv4().GetConfig().GetSecondaryAddress(), ifc.GetIpv4().GetConfig().GetProbeAddress()},
		{ifc.GetIpv6().GetConfig().GetLogicalProbe(), ifc.GetIpv6().GetConfig().GetPrimaryAddress(), ifc.GetIpv6().GetConfig().GetSecondaryAddress(), ifc.GetIpv6().GetConfig().GetProbeAddress()},
	} {
		own := fam.secondary
		if primary {
			own = fam.primary
		}
		src, err1 := netip.ParseAddr(own)
		dst, err2 := netip.ParseAddr(fam.destination)
		if fam.on && err1 == nil && err2 == nil {
			out = append(out, probe.Target{Port: port, Source: src, Destination: dst})
		}
	}
	return out
}

// HeldDownOnPassive returns the ports that a unit of a pair holds
// administratively down while it is not active (TKO-6): with
// /ha/config/aggregates-up-on-passive false, every enabled interface
// with link-aggregate true, so that its LACP partner sends the passive
// unit no traffic. A port that carries an HA link is never held down.
// It returns nil in standalone and cluster modes, where no unit is
// passive.
func HeldDownOnPassive(d *tandem.Device) map[string]bool {
	ha := d.GetHa().GetConfig()
	if !pairMode(ha.GetMode()) || ha.GetAggregatesUpOnPassive() {
		return nil
	}
	haPorts := map[string]bool{}
	if l := d.GetHa().GetLinks(); l != nil {
		for _, link := range l.Link {
			haPorts[link.GetConfig().GetPort()] = true
		}
	}
	var held map[string]bool
	if ifs := d.GetInterfaces(); ifs != nil {
		for name, ifc := range ifs.Interface {
			cfg := ifc.GetConfig()
			if cfg.GetLinkAggregate() && cfg.GetEnabled() && !haPorts[name] {
				if held == nil {
					held = map[string]bool{}
				}
				held[name] = true
			}
		}
	}
	return held
}

// pairMode reports whether mode runs an HA pair: one active unit, one
// passive.
func pairMode(mode tandem.E_TandemHa_HaMode) bool {
	return mode == tandem.TandemHa_HaMode_active_standby || mode == tandem.TandemHa_HaMode_active_active_dpi
}

// errNotPaired says the configuration runs no HA pair on this unit.
var errNotPaired = errors.New("no HA pair")

// fromConfig derives the engine's setup for the unit serial from d. It
// returns errNotPaired (wrapped, with the reason) when HA does not run.
func fromConfig(d *tandem.Device, serial, firmware string) (setup, error) {
	ha := d.GetHa().GetConfig()
	if !pairMode(ha.GetMode()) {
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
			probed := ifc.GetIpv4().GetConfig().GetLogicalProbe() || ifc.GetIpv6().GetConfig().GetLogicalProbe()
			if !cfg.GetPhysicalMonitoring() && !probed {
				continue
			}
			m.Interfaces = append(m.Interfaces, fsm.Interface{
				Name: name, Weight: int(cfg.GetWeight()), Physical: cfg.GetPhysicalMonitoring(), Probe: probed,
			})
			s.probes = append(s.probes, probeTargets(name, primary, ifc)...)
		}
	}
	sort.Slice(m.Interfaces, func(i, j int) bool { return m.Interfaces[i].Name < m.Interfaces[j].Name })
	sort.Slice(s.probes, func(i, j int) bool { return s.probes[i].Port < s.probes[j].Port })
	mc := d.GetMonitoring().GetConfig()
	s.probeTiming = probe.Config{
		Interval:      time.Duration(mc.GetProbeInterval()) * time.Second,
		Timeout:       time.Duration(mc.GetProbeTimeout()) * time.Millisecond,
		LossThreshold: int(mc.GetProbeLossThreshold()),
	}
	s.held = HeldDownOnPassive(d)
	s.settle = settleTime(s.held, s.probes, s.probeTiming)
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
