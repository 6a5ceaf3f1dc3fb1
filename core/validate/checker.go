package validate

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/core/catalog"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// Short names of generated enum values.
const (
	modeStandalone = tandem.TandemHa_HaMode_standalone
	modeAS         = tandem.TandemHa_HaMode_active_standby
	modeDPI        = tandem.TandemHa_HaMode_active_active_dpi
	modeCluster    = tandem.TandemHa_HaMode_active_active_cluster

	primary   = tandem.TandemTypes_UnitDesignation_primary
	secondary = tandem.TandemTypes_UnitDesignation_secondary

	linkControl = tandem.TandemHa_HaLinkFunction_control
	linkBackup  = tandem.TandemHa_HaLinkFunction_backup_control
	linkData    = tandem.TandemHa_HaLinkFunction_data
	linkDPI     = tandem.TandemHa_HaLinkFunction_dpi
	linkDPI2    = tandem.TandemHa_HaLinkFunction_dpi_2

	zoneUnassigned = tandem.TandemInterfaces_Interfaces_Interface_Config_Zone_unassigned
	zoneWAN        = tandem.TandemInterfaces_Interfaces_Interface_Config_Zone_wan
	zoneHADataLink = tandem.TandemInterfaces_Interfaces_Interface_Config_Zone_ha_data_link

	licBackup = tandem.TandemLicensing_Licensing_Units_Unit_Config_HaLicenceType_backup
)

// defaultModel is the YANG default of /platform/config/model.
const defaultModel = "lab"

var portNameRE = regexp.MustCompile(`^X[0-9]{1,2}$`)

// device is a member unit with its effective values.
type device struct {
	serial      string
	designation tandem.E_TandemTypes_UnitDesignation
	model       string // effective: own model leaf, else the platform's
	modelSet    bool
	portCount   *uint8
	node        uint8 // 0: none
}

// link is an HA link with its effective values.
type link struct {
	fn   tandem.E_TandemHa_HaLinkFunction
	port string
}

// famCfg is the monitoring configuration of one address family.
type famCfg struct {
	primary, secondary, probe *string
	mgmt, probeOn             *bool
}

// monIface is one monitored interface, from /monitoring or from a
// cluster node.
type monIface struct {
	path     string // .../interfaces/interface[name=X]
	name     string
	physical *bool
	v4, v6   famCfg
}

// monScope is the monitoring of a pair (/monitoring) or of a cluster
// node.
type monScope struct {
	path   string // /monitoring or /cluster/nodes/node[id=N]/monitoring
	node   uint8  // 0 for the pair
	single bool   // a cluster node with exactly one configured unit
	ifaces []monIface
}

// checker holds the configuration under test, its effective values and
// the issues found.
type checker struct {
	d      *tandem.Device
	mode   tandem.E_TandemHa_HaMode
	plat   string
	model  catalog.Model
	known  bool // plat is in the catalog
	devs   []device
	links  []link
	ifaces map[string]*tandem.TandemInterfaces_Interfaces_Interface_Config
	nodes  map[uint8]*tandem.TandemCluster_Cluster_Nodes_Node
	vgs    map[uint8]*tandem.TandemCluster_Cluster_VirtualGroups_VirtualGroup

	errs, warns []Issue
}

func newChecker(d *tandem.Device) *checker {
	c := &checker{d: d, mode: d.GetHa().GetConfig().GetMode(), plat: d.GetPlatform().GetConfig().GetModel()}
	if c.mode == tandem.TandemHa_HaMode_UNSET {
		c.mode = modeStandalone
	}
	if c.plat == "" {
		c.plat = defaultModel
	}
	c.model, c.known = catalog.Lookup(c.plat)
	if devs := d.GetHa().GetDevices(); devs != nil {
		for _, s := range sortedKeys(devs.Device) {
			cfg := devs.Device[s].GetConfig()
			dv := device{serial: s, designation: cfg.GetDesignation(), model: c.plat, portCount: cfg.PortCount, node: cfg.GetClusterNode()}
			if cfg.GetModel() != "" {
				dv.model, dv.modelSet = cfg.GetModel(), true
			}
			c.devs = append(c.devs, dv)
		}
	}
	// Primary first, then by serial.
	sort.SliceStable(c.devs, func(a, b int) bool {
		return c.devs[a].designation == primary && c.devs[b].designation != primary
	})
	if ls := d.GetHa().GetLinks(); ls != nil {
		for fn, l := range ls.Link {
			port := l.GetConfig().GetPort()
			c.links = append(c.links, link{fn: fn, port: port})
		}
		sort.Slice(c.links, func(a, b int) bool { return c.links[a].fn < c.links[b].fn })
	}
	c.ifaces = map[string]*tandem.TandemInterfaces_Interfaces_Interface_Config{}
	if is := d.GetInterfaces(); is != nil {
		for n, i := range is.Interface {
			cfg := i.GetConfig()
			if cfg == nil {
				cfg = &tandem.TandemInterfaces_Interfaces_Interface_Config{}
			}
			c.ifaces[n] = cfg
		}
	}
	if n := d.GetCluster().GetNodes(); n != nil {
		c.nodes = n.Node
	}
	if v := d.GetCluster().GetVirtualGroups(); v != nil {
		c.vgs = v.VirtualGroup
	}
	return c
}

// physical returns the physical-monitoring leaf of a monitored
// interface's config (either generated type), nil when unset.
func physical(cfg interface{ GetPhysicalMonitoring() bool }) *bool {
	switch v := cfg.(type) {
	case *tandem.TandemHaMonitoring_Monitoring_Interfaces_Interface_Config:
		if v != nil {
			return v.PhysicalMonitoring
		}
	case *tandem.TandemCluster_Cluster_Nodes_Node_Monitoring_Interfaces_Interface_Config:
		if v != nil {
			return v.PhysicalMonitoring
		}
	}
	return nil
}

// haCfg returns /ha/config, empty when absent.
func (c *checker) haCfg() *tandem.TandemHa_Ha_Config {
	if cfg := c.d.GetHa().GetConfig(); cfg != nil {
		return cfg
	}
	return &tandem.TandemHa_Ha_Config{}
}

// nodeCfg returns a cluster node's config, empty when absent.
func (c *checker) nodeCfg(id uint8) *tandem.TandemCluster_Cluster_Nodes_Node_Config {
	if cfg := c.nodes[id].GetConfig(); cfg != nil {
		return cfg
	}
	return &tandem.TandemCluster_Cluster_Nodes_Node_Config{}
}

func (c *checker) errf(path, rule, fix, format string, args ...any) {
	c.errs = append(c.errs, Issue{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (c *checker) warnf(path, rule, fix, format string, args ...any) {
	c.warns = append(c.warns, Issue{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// run applies every configuration rule.
func (c *checker) run() {
	c.plat1()
	c.plat3()
	c.plat4()
	c.plat5()
	c.tko6()
	c.mode1()
	c.mode2()
	c.mode3()
	c.mode4()
	c.mode5()
	c.role5()
	c.lic1()
	c.lic5()
	c.clu2()
	c.clu13()
	c.clu14()
	c.dpi2()
	c.mon()
}

// --- paths -------------------------------------------------------------

func devPath(s string) string  { return "/ha/devices/device[serial-number=" + s + "]" }
func ifPath(n string) string   { return "/interfaces/interface[name=" + n + "]" }
func nodePath(id uint8) string { return fmt.Sprintf("/cluster/nodes/node[id=%d]", id) }
func vgPath(id uint8) string   { return fmt.Sprintf("/cluster/virtual-groups/virtual-group[id=%d]", id) }
func unitPath(s string) string { return "/licensing/units/unit[serial-number=" + s + "]" }
func rpPath(p string) string   { return "/cluster/redundant-ports/redundant-port[port=" + p + "]" }
func linkPath(f tandem.E_TandemHa_HaLinkFunction) string {
	return "/ha/links/link[function=" + f.String() + "]"
}
func vaPath(vg uint8, ifn string) string {
	return vgPath(vg) + "/virtual-addresses/virtual-address[interface=" + ifn + "]"
}

// --- effective values ------------------------------------------------

func isTrue(b *bool) bool        { return b != nil && *b }
func explicitFalse(b *bool) bool { return b != nil && !*b }

func (c *checker) haOn() bool    { return c.mode != modeStandalone }
func (c *checker) cluster() bool { return c.mode == modeCluster }

// zone returns the effective zone of interface n (unassigned when the
// interface is not configured).
func (c *checker) zone(n string) tandem.E_TandemInterfaces_Interfaces_Interface_Config_Zone {
	z := c.ifaces[n].GetZone()
	if z == tandem.TandemInterfaces_Interfaces_Interface_Config_Zone_UNSET {
		return zoneUnassigned
	}
	return z
}

// vgAddrs returns the virtual-address config of VG vg on interface n.
func (c *checker) vgAddrs(vg uint8, n string) *tandem.TandemCluster_Cluster_VirtualGroups_VirtualGroup_VirtualAddresses_VirtualAddress_Config {
	g := c.vgs[vg]
	if g == nil || g.VirtualAddresses == nil {
		return nil
	}
	return g.VirtualAddresses.VirtualAddress[n].GetConfig()
}

// ifaceAddrs returns the prefixes (with host bits) of interface n in the
// given family (4 or 6): its own addresses and, in cluster mode, every
// VG's virtual addresses on it.
func (c *checker) ifaceAddrs(n string, fam int) []netip.Prefix {
	var raw []string
	cfg := c.ifaces[n]
	if fam == 4 {
		raw = append(raw, cfg.GetIpv4Address()...)
	} else {
		raw = append(raw, cfg.GetIpv6Address()...)
	}
	if c.cluster() {
		for _, id := range sortedKeys(c.vgs) {
			if va := c.vgAddrs(id, n); va != nil {
				if fam == 4 {
					raw = append(raw, va.Ipv4Address...)
				} else {
					raw = append(raw, va.Ipv6Address...)
				}
			}
		}
	}
	var out []netip.Prefix
	for _, r := range raw {
		if p, err := netip.ParsePrefix(r); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// hasVirtualAddrs reports whether interface n carries virtual addresses:
// its own (VG1's in a cluster) or any VG's.
func (c *checker) hasVirtualAddrs(n string) bool {
	if len(c.ifaceAddrs(n, 4)) > 0 || len(c.ifaceAddrs(n, 6)) > 0 {
		return true
	}
	return false
}

// linkPort returns the HA link that uses port, if any.
func (c *checker) linkPort(port string) (link, bool) {
	for _, l := range c.links {
		if l.port == port {
			return l, true
		}
	}
	return link{}, false
}

// portExists reports whether port p exists: it is in the platform
// model's port map, or below the port-count every device sets.
func (c *checker) portExists(p string) bool {
	if _, ok := c.model.Port(p); ok {
		return true
	}
	n := c.commonPortCount()
	var idx int
	if _, err := fmt.Sscanf(p, "X%d", &idx); err != nil {
		return false
	}
	return idx < n
}

// commonPortCount is the port-count every device sets, or 0.
func (c *checker) commonPortCount() int {
	n := -1
	for _, d := range c.devs {
		if d.portCount == nil {
			return 0
		}
		if n >= 0 && int(*d.portCount) != n {
			return 0
		}
		n = int(*d.portCount)
	}
	if n < 0 {
		return 0
	}
	return n
}

// groups returns the units that form each pair: all devices in a pair
// mode, one group per cluster node in cluster mode (keyed by node id,
// 0 for the pair).
func (c *checker) groups() map[uint8][]device {
	g := map[uint8][]device{}
	for _, d := range c.devs {
		k := uint8(0)
		if c.cluster() {
			k = d.node
		}
		g[k] = append(g[k], d)
	}
	return g
}

// monScopes returns the monitoring scopes: /monitoring, and every
// cluster node's monitoring.
func (c *checker) monScopes() []monScope {
	var out []monScope
	if m := c.d.GetMonitoring().GetInterfaces(); m != nil {
		s := monScope{path: "/monitoring"}
		for _, n := range sortedKeys(m.Interface) {
			i := m.Interface[n]
			mi := monIface{path: s.path + "/interfaces/interface[name=" + n + "]", name: n, physical: physical(i.GetConfig())}
			if v := i.GetIpv4().GetConfig(); v != nil {
				mi.v4 = famCfg{v.PrimaryAddress, v.SecondaryAddress, v.ProbeAddress, v.AllowManagement, v.LogicalProbe}
			}
			if v := i.GetIpv6().GetConfig(); v != nil {
				mi.v6 = famCfg{v.PrimaryAddress, v.SecondaryAddress, v.ProbeAddress, v.AllowManagement, v.LogicalProbe}
			}
			s.ifaces = append(s.ifaces, mi)
		}
		out = append(out, s)
	}
	grp := c.groups()
	for _, id := range sortedKeys(c.nodes) {
		s := monScope{path: nodePath(id) + "/monitoring", node: id, single: c.cluster() && len(grp[id]) == 1}
		if m := c.nodes[id].GetMonitoring().GetInterfaces(); m != nil {
			for _, n := range sortedKeys(m.Interface) {
				i := m.Interface[n]
				mi := monIface{path: s.path + "/interfaces/interface[name=" + n + "]", name: n, physical: physical(i.GetConfig())}
				if v := i.GetIpv4().GetConfig(); v != nil {
					mi.v4 = famCfg{v.PrimaryAddress, v.SecondaryAddress, v.ProbeAddress, v.AllowManagement, v.LogicalProbe}
				}
				if v := i.GetIpv6().GetConfig(); v != nil {
					mi.v6 = famCfg{v.PrimaryAddress, v.SecondaryAddress, v.ProbeAddress, v.AllowManagement, v.LogicalProbe}
				}
				s.ifaces = append(s.ifaces, mi)
			}
		}
		out = append(out, s)
	}
	return out
}

// addrSet parses a monitoring address; ok is false when it is unset,
// unparsable or unspecified (:: or 0.0.0.0).
func addrSet(s *string) (netip.Addr, bool) {
	if s == nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(*s)
	if err != nil || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a, true
}

// hasMonAddrs reports whether a monitored interface has monitoring
// addresses in either family (primary and secondary; primary only for a
// single-unit node).
func hasMonAddrs(mi monIface, single bool) bool {
	for _, f := range []famCfg{mi.v4, mi.v6} {
		_, p := addrSet(f.primary)
		_, s := addrSet(f.secondary)
		if p && (s || single) {
			return true
		}
	}
	return false
}

func modelList() string { return strings.Join(catalog.Names(), ", ") }
