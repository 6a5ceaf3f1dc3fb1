package reconcile

import (
	"crypto/sha256"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/core/catalog"
	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Identity says which unit this daemon runs on.
type Identity struct {
	// SerialNumber is this unit's serial number.
	SerialNumber string
	// DataDir is the daemon's data directory; plugins keep their sockets
	// there.
	DataDir string
}

// Designation returns whether this unit is the primary or the secondary
// of its pair: its entry in /ha/devices, or primary when it has none
// (a standalone unit).
func (id Identity) Designation(d *tandem.Device) tandem.E_TandemTypes_UnitDesignation {
	dev := d.GetHa().GetDevices().GetDevice(id.SerialNumber)
	if des := dev.GetConfig().GetDesignation(); des != tandem.TandemTypes_UnitDesignation_UNSET {
		return des
	}
	return tandem.TandemTypes_UnitDesignation_primary
}

// ownsVirtualAddresses reports whether a unit in role holds the virtual
// addresses of the interfaces (TKO-1).
func ownsVirtualAddresses(role fsm.Role) bool {
	return role == fsm.RoleActive || role == fsm.RoleStandalone
}

// PlatformSpec computes what the platform driver must hold for the
// configuration d on a unit in role: every configured interface and HA
// link port with its administrative state and addresses, and every other
// port of the platform's port map as unconfigured (no addresses), so that
// a port dropped from the configuration is cleaned up. The unit's own
// monitoring addresses and HA link addresses are always present (MON-2);
// the interfaces' virtual addresses only while the unit is active or
// standalone (TKO-1). A unit of a pair that is not active (initializing,
// standby, faulted) holds the link aggregates of ha.HeldDownOnPassive
// administratively down, so that LACP partners send it no traffic, when
// /ha/config/aggregates-up-on-passive is false (TKO-6); with the option
// on, its default, they are up on every role. HA link ports are never
// held down.
func PlatformSpec(d *tandem.Device, role fsm.Role, self Identity) *sdk.PlatformSpec {
	primary := self.Designation(d) == tandem.TandemTypes_UnitDesignation_primary
	ports := map[string]*sdk.Port{}
	port := func(name string) *sdk.Port {
		p, ok := ports[name]
		if !ok {
			p = &sdk.Port{Name: name, Netdev: netdev(d, name), AdminUp: true}
			ports[name] = p
		}
		return p
	}
	interfaces := map[string]*tandem.TandemInterfaces_Interfaces_Interface{}
	if ifs := d.GetInterfaces(); ifs != nil {
		interfaces = ifs.Interface
	}
	vmac := virtualMACOn(d)
	for name, ifc := range interfaces {
		cfg := ifc.GetConfig()
		p := port(name)
		p.AdminUp = cfg.GetEnabled()
		if !ownsVirtualAddresses(role) {
			continue
		}
		virtual := append(append([]string{}, cfg.GetIpv4Address()...), cfg.GetIpv6Address()...)
		if vmac && len(virtual) > 0 {
			p.VirtualMac = VirtualMAC(d, name)
			p.VirtualAddresses = dedupe(virtual)
			continue
		}
		p.Addresses = append(p.Addresses, virtual...)
	}
	if !ownsVirtualAddresses(role) {
		for name := range ha.HeldDownOnPassive(d) {
			port(name).AdminUp = false
		}
	}
	monitored := map[string]*tandem.TandemHaMonitoring_Monitoring_Interfaces_Interface{}
	if m := d.GetMonitoring().GetInterfaces(); m != nil {
		monitored = m.Interface
	}
	for name, mon := range monitored {
		v4, v6 := mon.GetIpv4().GetConfig(), mon.GetIpv6().GetConfig()
		own4 := ownAddress(primary, v4.GetPrimaryAddress(), v4.GetSecondaryAddress())
		own6 := ownAddress(primary, v6.GetPrimaryAddress(), v6.GetSecondaryAddress())
		subnets := interfaces[name].GetConfig()
		for _, a := range []struct {
			addr     string
			prefixes []string
		}{{own4, subnets.GetIpv4Address()}, {own6, subnets.GetIpv6Address()}} {
			if cidr, ok := withSubnet(a.addr, a.prefixes); ok {
				p := port(name)
				p.Addresses = append(p.Addresses, cidr)
			}
		}
	}
	links := map[tandem.E_TandemHa_HaLinkFunction]*tandem.TandemHa_Ha_Links_Link{}
	if l := d.GetHa().GetLinks(); l != nil {
		links = l.Link
	}
	for _, link := range links {
		cfg := link.GetConfig()
		if cfg.GetPort() == "" {
			continue
		}
		p := port(cfg.GetPort())
		p.HaLink = true
		if own := ownAddress(primary, cfg.GetPrimaryAddress(), cfg.GetSecondaryAddress()); own != "" {
			p.Addresses = append(p.Addresses, own)
		}
	}
	for _, name := range portMap(d) {
		if _, ok := ports[name]; !ok {
			ports[name] = &sdk.Port{Name: name, Netdev: netdev(d, name), Unconfigured: true}
		}
	}
	spec := &sdk.PlatformSpec{
		Firewall:            firewallSpec(d, primary, interfaces, monitored),
		GarpIntervalSeconds: uint32(d.GetHa().GetConfig().GetGratuitousArpInterval()),
		BounceOnTakeover:    d.GetHa().GetConfig().GetBounceInterfaces(),
	}
	for _, p := range ports {
		p.Addresses = dedupe(p.Addresses)
		spec.Ports = append(spec.Ports, p)
	}
	sort.Slice(spec.Ports, func(i, j int) bool { return portLess(spec.Ports[i].Name, spec.Ports[j].Name) })
	return spec
}

// virtualMACOn reports whether the pair shares virtual MACs (TKO-2): the
// option is on and the unit runs in an HA pair mode.
func virtualMACOn(d *tandem.Device) bool {
	cfg := d.GetHa().GetConfig()
	switch cfg.GetMode() {
	case tandem.TandemHa_HaMode_active_standby, tandem.TandemHa_HaMode_active_active_dpi:
		return cfg.GetVirtualMac()
	}
	return false
}

// VirtualMAC is the pair's virtual MAC of a port (TKO-2): the override in
// /monitoring/interfaces/interface/config/virtual-mac-address, else one
// generated from the members' serial numbers and the port, the same on
// both units, stable across restarts, locally administered and unicast,
// so it never equals a physical (vendor) MAC.
func VirtualMAC(d *tandem.Device, port string) string {
	if m := d.GetMonitoring().GetInterfaces(); m != nil {
		if o := m.Interface[port].GetConfig().GetVirtualMacAddress(); o != "" {
			return strings.ToLower(o)
		}
	}
	var serials []string
	if devs := d.GetHa().GetDevices(); devs != nil {
		for s := range devs.Device {
			serials = append(serials, s)
		}
	}
	sort.Strings(serials)
	sum := sha256.Sum256([]byte("tandem virtual mac\x00" + strings.Join(serials, ",") + "\x00" + port))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return mac.String()
}

// ManagementTCPPorts are the management services' ports that a monitoring
// address accepts when allow-management is on: SSH, HTTPS (REST), NETCONF
// over SSH and gNMI.
var ManagementTCPPorts = []uint32{22, 443, 830, 9339}

// firewallSpec computes the unit's input filter: on every HA link port
// that carries no data interface, only the other member's link address
// is admitted (SEC-3); each of the unit's own monitoring addresses admits
// management only where allowed and nothing else (MON-3). A link sharing
// a data port (a backup heartbeat path over X0) is not filtered: that
// would cut the LAN off.
func firewallSpec(d *tandem.Device, primary bool,
	interfaces map[string]*tandem.TandemInterfaces_Interfaces_Interface,
	monitored map[string]*tandem.TandemHaMonitoring_Monitoring_Interfaces_Interface,
) *sdk.FirewallSpec {
	fw := &sdk.FirewallSpec{}
	filtered := map[string]*sdk.HALinkFilter{}
	if l := d.GetHa().GetLinks(); l != nil {
		for _, link := range l.Link {
			cfg := link.GetConfig()
			peer := cfg.GetPrimaryAddress()
			if primary {
				peer = cfg.GetSecondaryAddress()
			}
			pfx, err := netip.ParsePrefix(peer)
			if cfg.GetPort() == "" || err != nil || carriesData(interfaces[cfg.GetPort()]) {
				continue
			}
			f, ok := filtered[cfg.GetPort()]
			if !ok {
				f = &sdk.HALinkFilter{Netdev: netdev(d, cfg.GetPort())}
				filtered[cfg.GetPort()] = f
				fw.HaLinks = append(fw.HaLinks, f)
			}
			f.PeerAddresses = dedupe(append(f.PeerAddresses, pfx.Addr().String()))
		}
	}
	for _, mon := range monitored {
		for _, fam := range []struct {
			own   string
			allow bool
		}{
			{ownAddress(primary, mon.GetIpv4().GetConfig().GetPrimaryAddress(), mon.GetIpv4().GetConfig().GetSecondaryAddress()), mon.GetIpv4().GetConfig().GetAllowManagement()},
			{ownAddress(primary, mon.GetIpv6().GetConfig().GetPrimaryAddress(), mon.GetIpv6().GetConfig().GetSecondaryAddress()), mon.GetIpv6().GetConfig().GetAllowManagement()},
		} {
			a, err := netip.ParseAddr(fam.own)
			if err != nil || a.IsUnspecified() {
				continue
			}
			m := &sdk.MonitoringFilter{Address: a.String(), AllowManagement: fam.allow}
			if fam.allow {
				m.ManagementTcpPorts = ManagementTCPPorts
			}
			fw.Monitoring = append(fw.Monitoring, m)
		}
	}
	fw.NoSyncMark, fw.SyncExclusions = syncExclusions(d)
	sort.Slice(fw.HaLinks, func(i, j int) bool { return fw.HaLinks[i].Netdev < fw.HaLinks[j].Netdev })
	sort.Slice(fw.Monitoring, func(i, j int) bool { return fw.Monitoring[i].Address < fw.Monitoring[j].Address })
	return fw
}

// syncExclusions returns the no-sync mark and the exclusions of
// tandem-statesync while stateful sync is on (SYNC-6), sorted by name.
func syncExclusions(d *tandem.Device) (uint32, []*sdk.SyncExclusion) {
	ex := d.GetStatesync().GetExclusions()
	if !d.GetHa().GetConfig().GetStatefulSync() || ex == nil || len(ex.Exclusion) == 0 {
		return 0, nil
	}
	var out []*sdk.SyncExclusion
	for name, e := range ex.Exclusion {
		cfg := e.GetConfig()
		proto := cfg.GetProtocol().String()
		if proto == "any" {
			proto = ""
		}
		out = append(out, &sdk.SyncExclusion{
			Name: name, Sync: cfg.GetSync(), Protocol: proto,
			SourcePrefix: cfg.GetSourcePrefix(), DestinationPrefix: cfg.GetDestinationPrefix(),
			DestinationPort: uint32(cfg.GetDestinationPort()),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return d.GetStatesync().GetConfig().GetNoSyncMark(), out
}

// carriesData reports whether an interface is part of the data plane: it
// has addresses or a zone other than unassigned.
func carriesData(ifc *tandem.TandemInterfaces_Interfaces_Interface) bool {
	cfg := ifc.GetConfig()
	zone := cfg.GetZone()
	return len(cfg.GetIpv4Address()) > 0 || len(cfg.GetIpv6Address()) > 0 ||
		(zone != tandem.TandemInterfaces_Interfaces_Interface_Config_Zone_UNSET &&
			zone != tandem.TandemInterfaces_Interfaces_Interface_Config_Zone_unassigned &&
			zone != tandem.TandemInterfaces_Interfaces_Interface_Config_Zone_ha_data_link)
}

// ownAddress picks this unit's address of a primary/secondary pair.
func ownAddress(primary bool, p, s string) string {
	if primary {
		return p
	}
	return s
}

// portMap lists every port the platform has: the model's port map and
// the ports mapped in /platform/ports.
func portMap(d *tandem.Device) []string {
	var names []string
	if m, ok := catalog.Lookup(d.GetPlatform().GetConfig().GetModel()); ok {
		for _, p := range m.Ports {
			names = append(names, p.Name)
		}
	}
	if ports := d.GetPlatform().GetPorts(); ports != nil {
		for name := range ports.Port {
			names = append(names, name)
		}
	}
	return names
}

// netdev maps a port to its network device: the platform port-map
// override, else the model's port map, else the port name in lower case.
func netdev(d *tandem.Device, port string) string {
	if nd := d.GetPlatform().GetPorts().GetPort(port).GetConfig().GetNetdev(); nd != "" {
		return nd
	}
	if m, ok := catalog.Lookup(d.GetPlatform().GetConfig().GetModel()); ok {
		if p, ok := m.Port(port); ok && p.Netdev != "" {
			return p.Netdev
		}
	}
	return strings.ToLower(port)
}

// withSubnet gives a bare monitoring address the prefix length of the
// interface subnet it belongs to, or a host prefix when none contains it.
func withSubnet(addr string, prefixes []string) (string, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.IsUnspecified() {
		return "", false
	}
	for _, s := range prefixes {
		if p, err := netip.ParsePrefix(s); err == nil && p.Masked().Contains(a) {
			return netip.PrefixFrom(a, p.Bits()).String(), true
		}
	}
	return netip.PrefixFrom(a, a.BitLen()).String(), true
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// portLess orders X2 before X10.
func portLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
