package reconcile

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/core/catalog"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Identity says which unit this daemon runs on.
type Identity struct {
	// SerialNumber is this unit's serial number.
	SerialNumber string
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
func ownsVirtualAddresses(role Role) bool {
	return role == RoleActive || role == RoleStandalone
}

// PlatformSpec computes what the platform driver must hold for the
// configuration d on a unit in role: every configured interface and HA
// link port with its administrative state and addresses, and every other
// port of the platform's port map as unconfigured (no addresses), so that
// a port dropped from the configuration is cleaned up. The unit's own
// monitoring addresses and HA link addresses are always present (MON-2);
// the interfaces' virtual addresses only while the unit is active or
// standalone (TKO-1).
func PlatformSpec(d *tandem.Device, role Role, self Identity) *sdk.PlatformSpec {
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
	for name, ifc := range interfaces {
		cfg := ifc.GetConfig()
		p := port(name)
		p.AdminUp = cfg.GetEnabled()
		if ownsVirtualAddresses(role) {
			p.Addresses = append(p.Addresses, cfg.GetIpv4Address()...)
			p.Addresses = append(p.Addresses, cfg.GetIpv6Address()...)
		}
	}
	monitored := map[string]*tandem.TandemHaMonitoring_Monitoring_Interfaces_Interface{}
	if m := d.GetMonitoring().GetInterfaces(); m != nil {
		monitored = m.Interface
	}
	for name, mon := range monitored {
		v4, v6 := mon.GetIpv4().GetConfig(), mon.GetIpv6().GetConfig()
		own4, own6 := v4.GetSecondaryAddress(), v6.GetSecondaryAddress()
		if primary {
			own4, own6 = v4.GetPrimaryAddress(), v6.GetPrimaryAddress()
		}
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
		own := cfg.GetSecondaryAddress()
		if primary {
			own = cfg.GetPrimaryAddress()
		}
		if own != "" {
			p.Addresses = append(p.Addresses, own)
		}
	}
	for _, name := range portMap(d) {
		if _, ok := ports[name]; !ok {
			ports[name] = &sdk.Port{Name: name, Netdev: netdev(d, name), Unconfigured: true}
		}
	}
	spec := &sdk.PlatformSpec{}
	for _, p := range ports {
		p.Addresses = dedupe(p.Addresses)
		spec.Ports = append(spec.Ports, p)
	}
	sort.Slice(spec.Ports, func(i, j int) bool { return portLess(spec.Ports[i].Name, spec.Ports[j].Name) })
	return spec
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
