package validate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/tandem-ha/tandem/core/catalog"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// plat1: known models, no HA on models without it, every port named
// exists in the port map.
func (c *checker) plat1() {
	if !c.known {
		c.errf("/platform/config/model", "PLAT-1", "set one of: "+modelList(),
			"unknown platform model %q", c.plat)
	} else if !c.model.HA && c.haOn() {
		c.errf("/ha/config/mode", "PLAT-1", "set mode standalone; high availability needs a model that supports it",
			"model %s (class %s) has no high availability, so mode %s is impossible", c.plat, c.model.Class, c.mode)
	}
	for _, d := range c.devs {
		if _, ok := catalog.Lookup(d.model); d.modelSet && !ok {
			c.errf(devPath(d.serial)+"/config/model", "PLAT-1", "set one of: "+modelList(),
				"unit %s has unknown model %q", d.serial, d.model)
		}
	}
	if !c.known {
		return
	}
	check := func(path, port, what string) {
		if port == "" || !portNameRE.MatchString(port) || c.portExists(port) {
			return
		}
		c.errf(path, "PLAT-1", fmt.Sprintf("use a port of %s's port map (%s)", c.plat, c.model.PortRange()),
			"%s %s does not exist on model %s (ports %s)", what, port, c.plat, c.model.PortRange())
	}
	for _, n := range sortedKeys(c.ifaces) {
		check(ifPath(n), n, "interface")
		if p := c.ifaces[n].GetPortshieldTo(); p != "" {
			check(ifPath(n)+"/config/portshield-to", p, "PortShield port")
		}
	}
	for _, l := range c.links {
		check(linkPath(l.fn)+"/config/port", l.port, "HA "+l.fn.String()+" link port")
	}
	for _, s := range c.monScopes() {
		for _, mi := range s.ifaces {
			check(mi.path, mi.name, "monitored interface")
		}
	}
	for _, id := range sortedKeys(c.vgs) {
		if va := c.vgs[id].GetVirtualAddresses(); va != nil {
			for _, n := range sortedKeys(va.VirtualAddress) {
				check(vaPath(id, n), n, "virtual address interface")
			}
		}
	}
	if rp := c.d.GetCluster().GetRedundantPorts(); rp != nil {
		for _, p := range sortedKeys(rp.RedundantPort) {
			check(rpPath(p), p, "redundant port's primary port")
			check(rpPath(p)+"/config/redundant-port", rp.RedundantPort[p].GetConfig().GetRedundantPort(), "redundant port")
		}
	}
	if pp := c.d.GetPlatform().GetPorts(); pp != nil {
		for _, p := range sortedKeys(pp.Port) {
			check("/platform/ports/port[name="+p+"]", p, "platform port")
		}
	}
}

// unassigned checks that the port of an HA link is unassigned (zone
// unassigned or ha-data-link, no addresses, no NAT).
func (c *checker) unassigned(l link, rule string) {
	cfg := c.ifaces[l.port]
	if cfg == nil {
		return
	}
	what := fmt.Sprintf("port %s carries the HA %s link", l.port, l.fn)
	if z := c.zone(l.port); z != zoneUnassigned && z != zoneHADataLink {
		c.errf(ifPath(l.port)+"/config/zone", rule, "set the zone to unassigned or use another port for the link",
			"%s and must be unassigned, but its zone is %s", what, z)
	}
	if len(cfg.Ipv4Address) > 0 {
		c.errf(ifPath(l.port)+"/config/ipv4-address", rule, "remove the interface addresses; the link's own addresses are set under "+linkPath(l.fn),
			"%s and must not have interface addresses (it is never routed)", what)
	}
	if len(cfg.Ipv6Address) > 0 {
		c.errf(ifPath(l.port)+"/config/ipv6-address", rule, "remove the interface addresses",
			"%s and must not have interface addresses (it is never routed)", what)
	}
	if isTrue(cfg.Nat) {
		c.errf(ifPath(l.port)+"/config/nat", rule, "set nat false",
			"%s and must never be NATed", what)
	}
}

// plat3: HA control, data and backup links on unassigned ports, all HA
// links on different ports.
func (c *checker) plat3() {
	for _, l := range c.links {
		switch l.fn {
		case linkControl, linkData:
			c.unassigned(l, "PLAT-3")
		case linkBackup:
			if l.port != "X0" {
				c.unassigned(l, "PLAT-3")
			}
		}
	}
	seen := map[string]link{}
	for _, l := range c.links {
		if l.port == "" {
			continue
		}
		if first, dup := seen[l.port]; dup {
			rule := "PLAT-3"
			if first.fn == linkDPI && l.fn == linkDPI2 {
				rule = "DPI-2"
			}
			c.errf(linkPath(l.fn)+"/config/port", rule, "give each HA link its own port",
				"HA %s link uses port %s, which already carries the %s link", l.fn, l.port, first.fn)
			continue
		}
		seen[l.port] = l
	}
	if !c.cluster() {
		return
	}
	for _, id := range sortedKeys(c.vgs) {
		if va := c.vgs[id].GetVirtualAddresses(); va != nil {
			for _, n := range sortedKeys(va.VirtualAddress) {
				if l, ok := c.linkPort(n); ok && !(l.fn == linkBackup && n == "X0") {
					rule := "PLAT-3"
					if l.fn == linkDPI || l.fn == linkDPI2 {
						rule = "DPI-2"
					}
					c.errf(vaPath(id, n), rule, "remove the virtual addresses from this port",
						"port %s carries the HA %s link and cannot have virtual addresses", n, l.fn)
				}
			}
		}
	}
}

// plat4: no PortShield or bypass with HA on.
func (c *checker) plat4() {
	if !c.haOn() {
		return
	}
	for _, n := range sortedKeys(c.ifaces) {
		cfg := c.ifaces[n]
		if cfg.GetPortshieldTo() != "" {
			c.errf(ifPath(n)+"/config/portshield-to", "PLAT-4", "remove the PortShield configuration, or set mode standalone",
				"interface %s is PortShielded to %s; high availability (mode %s) cannot run with PortShield", n, cfg.GetPortshieldTo(), c.mode)
		}
		if isTrue(cfg.Bypass) {
			c.errf(ifPath(n)+"/config/bypass", "PLAT-4", "set bypass false, or set mode standalone",
				"interface %s has bypass on; high availability (mode %s) cannot run with bypass", n, c.mode)
		}
	}
}

// tko6: with aggregates-up-on-passive false in a pair mode, no HA link
// may use a link aggregate: the passive unit must keep its HA links up,
// so it could not hold that aggregate down as the option asks.
func (c *checker) tko6() {
	if !c.haOn() || c.cluster() || c.haCfg().GetAggregatesUpOnPassive() {
		return
	}
	for _, l := range c.links {
		cfg := c.ifaces[l.port]
		if cfg == nil || !cfg.GetLinkAggregate() || !cfg.GetEnabled() {
			continue
		}
		c.errf(ifPath(l.port)+"/config/link-aggregate", "TKO-6",
			"set /ha/config/aggregates-up-on-passive true, or move the HA "+l.fn.String()+" link to a port that is no link aggregate",
			"port %s carries the HA %s link, which the passive unit keeps up, so it cannot hold this link aggregate down as /ha/config/aggregates-up-on-passive false asks",
			l.port, l.fn)
	}
}

// portCount returns a device's effective port count (0 when unknown).
func portCount(d device) int {
	if d.portCount != nil {
		return int(*d.portCount)
	}
	if m, ok := catalog.Lookup(d.model); ok {
		return m.PortCount()
	}
	return 0
}

// plat5: all members have the same number of interfaces.
func (c *checker) plat5() {
	if len(c.devs) < 2 {
		return
	}
	ref := c.devs[0]
	want := portCount(ref)
	if want == 0 {
		return
	}
	for _, d := range c.devs[1:] {
		if got := portCount(d); got != 0 && got != want {
			c.errf(devPath(d.serial)+"/config/port-count", "PLAT-5",
				fmt.Sprintf("give every member the same interfaces (set port-count %d, or fit the same expansion modules)", want),
				"unit %s has %d interfaces but unit %s has %d; members must have the same number of interfaces", d.serial, got, ref.serial, want)
		}
	}
}

// mode1: mode-specific composition: pairs have at most one primary and
// one secondary; cluster configuration only in cluster mode; A/A DPI
// nodes are stateful pairs.
func (c *checker) mode1() {
	if c.mode == modeAS || c.mode == modeDPI {
		var prim, sec string
		for i, d := range c.devs {
			p := devPath(d.serial) + "/config/designation"
			switch {
			case i >= 2:
				c.errf(devPath(d.serial), "MODE-1", "remove the extra unit, or use mode active-active-cluster for more units",
					"mode %s is a pair of two units, but unit %s makes %d", c.mode, d.serial, len(c.devs))
			case d.designation == primary && prim != "":
				c.errf(p, "MODE-1", "make one of them secondary",
					"units %s and %s are both primary; a pair has one primary and one secondary", prim, d.serial)
			case d.designation == secondary && sec != "":
				c.errf(p, "MODE-1", "make one of them primary",
					"units %s and %s are both secondary; a pair has one primary and one secondary", sec, d.serial)
			}
			if d.designation == primary && prim == "" {
				prim = d.serial
			}
			if d.designation == secondary && sec == "" {
				sec = d.serial
			}
		}
	}
	if !c.cluster() {
		fix := "set /ha/config/mode to active-active-cluster, or remove it"
		for _, id := range sortedKeys(c.nodes) {
			if isTrue(c.nodeCfg(id).ActiveActiveDpi) {
				c.errf(nodePath(id)+"/config/active-active-dpi", "MODE-1", fix,
					"cluster node %d enables A/A DPI, but cluster nodes exist only in mode active-active-cluster (mode is %s)", id, c.mode)
				continue
			}
			c.errf(nodePath(id), "MODE-1", fix, "cluster node %d is configured but mode is %s, not active-active-cluster", id, c.mode)
		}
		for _, id := range sortedKeys(c.vgs) {
			c.errf(vgPath(id), "MODE-1", fix, "virtual group %d is configured but mode is %s, not active-active-cluster", id, c.mode)
		}
		if rp := c.d.GetCluster().GetRedundantPorts(); rp != nil {
			for _, p := range sortedKeys(rp.RedundantPort) {
				c.errf(rpPath(p), "MODE-1", fix, "redundant port %s is configured but mode is %s, not active-active-cluster", p, c.mode)
			}
		}
		for _, d := range c.devs {
			if d.node != 0 {
				c.errf(devPath(d.serial)+"/config/cluster-node", "MODE-1", "remove cluster-node, or set mode active-active-cluster",
					"unit %s names cluster node %d but mode is %s, not active-active-cluster", d.serial, d.node, c.mode)
			}
		}
		return
	}
	grp := c.groups()
	for _, id := range sortedKeys(c.nodes) {
		cfg := c.nodeCfg(id)
		if !isTrue(cfg.ActiveActiveDpi) {
			continue
		}
		if explicitFalse(cfg.Stateful) {
			c.errf(nodePath(id)+"/config/stateful", "MODE-1", "set stateful true, or turn A/A DPI off on this node",
				"cluster node %d enables A/A DPI, which needs a stateful HA pair", id)
		}
		if n := len(grp[id]); len(c.devs) > 0 && n != 2 {
			c.errf(nodePath(id)+"/config/active-active-dpi", "MODE-1", "add a primary and a secondary unit to the node, or turn A/A DPI off",
				"cluster node %d enables A/A DPI, which needs an HA pair, but it has %d unit(s)", id, n)
		}
	}
}

// mode2: stateful sync needs an HA mode.
func (c *checker) mode2() {
	if isTrue(c.haCfg().StatefulSync) && !c.haOn() {
		c.errf("/ha/config/stateful-sync", "MODE-2", "set an HA mode (such as active-standby), or set stateful-sync false",
			"stateful sync needs a peer, but mode is standalone")
	}
}

// mode3: A/A DPI forces stateful sync, needs the DPI link, preempt is a
// warning.
func (c *checker) mode3() {
	if c.mode != modeDPI {
		return
	}
	cfg := c.haCfg()
	if explicitFalse(cfg.StatefulSync) {
		c.errf("/ha/config/stateful-sync", "MODE-3", "remove stateful-sync or set it true",
			"mode active-active-dpi always runs stateful sync; it cannot be turned off")
	}
	if _, ok := c.findLink(linkDPI); !ok {
		c.errf(linkPath(linkDPI), "MODE-3", "configure /ha/links/link[function=dpi] on an unassigned port cabled between the units",
			"mode active-active-dpi needs a DPI link")
	}
	if isTrue(cfg.Preempt) {
		c.warnf("/ha/config/preempt", "MODE-3", "set preempt false",
			"preempt is allowed in mode active-active-dpi but should be off")
	}
}

func (c *checker) findLink(fn tandem.E_TandemHa_HaLinkFunction) (link, bool) {
	for _, l := range c.links {
		if l.fn == fn {
			return l, true
		}
	}
	return link{}, false
}

// mode4: cluster composition: every unit names an existing node, each
// node has at most one primary and one secondary, and at least one node.
func (c *checker) mode4() {
	if !c.cluster() {
		return
	}
	if len(c.nodes) == 0 {
		c.errf("/cluster/nodes", "MODE-4", "add /cluster/nodes/node[id=1] (and one node per pair or single unit)",
			"mode active-active-cluster needs at least one cluster node")
	}
	type seen struct{ prim, sec string }
	per := map[uint8]*seen{}
	for _, d := range c.devs {
		if d.node == 0 {
			c.errf(devPath(d.serial)+"/config/cluster-node", "MODE-4", "set cluster-node to the node (1-4) the unit belongs to",
				"unit %s names no cluster node; in mode active-active-cluster every unit belongs to one", d.serial)
			continue
		}
		if _, ok := c.nodes[d.node]; !ok {
			c.errf(devPath(d.serial)+"/config/cluster-node", "MODE-4", fmt.Sprintf("add %s, or name an existing node", nodePath(d.node)),
				"unit %s names cluster node %d, which is not configured", d.serial, d.node)
		}
		s := per[d.node]
		if s == nil {
			s = &seen{}
			per[d.node] = s
		}
		p := devPath(d.serial) + "/config/designation"
		switch {
		case d.designation == primary && s.prim != "":
			c.errf(p, "MODE-4", "move one of them to another node, or make it secondary",
				"cluster node %d has two primary units, %s and %s; a node is one unit or a pair", d.node, s.prim, d.serial)
		case d.designation == secondary && s.sec != "":
			c.errf(p, "MODE-4", "move one of them to another node, or make it primary",
				"cluster node %d has two secondary units, %s and %s; a node is one unit or a pair", d.node, s.sec, d.serial)
		case d.designation == primary:
			s.prim = d.serial
		case d.designation == secondary:
			s.sec = d.serial
		}
	}
	if len(c.devs) > 0 {
		for _, id := range sortedKeys(c.nodes) {
			if per[id] == nil {
				c.errf(nodePath(id), "MODE-4", "set cluster-node on the node's unit(s), or remove the node",
					"cluster node %d has no unit", id)
			}
		}
	}
	// CLU-1: at most four nodes (eight units).
	if len(c.nodes) > 4 {
		for _, id := range sortedKeys(c.nodes) {
			if id > 4 {
				c.errf(nodePath(id), "CLU-1", "remove the node; a cluster has at most 4 nodes",
					"cluster has %d nodes; at most 4 are allowed", len(c.nodes))
			}
		}
	}
	for _, id := range sortedKeys(c.nodes) {
		if id < 1 || id > 4 {
			c.errf(nodePath(id), "CLU-1", "number nodes 1 to 4", "cluster node %d is out of range; a cluster has at most 4 nodes", id)
		}
	}
	if len(c.devs) > 8 {
		c.errf("/ha/devices", "CLU-1", "remove units; a cluster has at most 4 nodes of 2 units",
			"cluster has %d units; at most 8 (4 nodes of 2) are allowed", len(c.devs))
	}
}

// mode5: all members are the platform's model.
func (c *checker) mode5() {
	for _, d := range c.devs {
		if d.modelSet && d.model != c.plat {
			c.errf(devPath(d.serial)+"/config/model", "MODE-5",
				fmt.Sprintf("members must be the same model: use a %s unit, or set /platform/config/model and every member to the same model", c.plat),
				"unit %s is a %s but the platform model is %s; a pair/cluster of different models refuses to form", d.serial, d.model, c.plat)
		}
	}
}

// role5: active-if-equal names a configured unit.
func (c *checker) role5() {
	if !c.haOn() {
		return
	}
	want := tandem.E_TandemTypes_UnitDesignation(0)
	switch c.d.GetHa().GetConfig().GetActiveIfEqual() {
	case tandem.TandemHa_Ha_Config_ActiveIfEqual_primary:
		want = primary
	case tandem.TandemHa_Ha_Config_ActiveIfEqual_secondary:
		want = secondary
	default:
		return
	}
	for _, d := range c.devs {
		if d.designation == want {
			return
		}
	}
	c.errf("/ha/config/active-if-equal", "ROLE-5",
		fmt.Sprintf("add the %s unit under /ha/devices, or set active-if-equal automatic", want),
		"active-if-equal is %s but no %s unit is configured", want, want)
}

// unitLicences returns the licence names held by a licensing unit entry.
func (c *checker) unitLicences(serial string) []string {
	u := c.d.GetLicensing().GetUnits().GetUnit(serial)
	var out []string
	for _, l := range u.GetConfig().GetLicence() {
		out = append(out, l.String())
	}
	return out
}

// lic1: every feature the configuration uses is available on the
// platform and licensed.
func (c *checker) lic1() {
	if !c.known || !c.haOn() {
		return
	}
	type use struct {
		f    catalog.Feature
		path string
		what string
		node uint8 // 0: every pair/node
	}
	var uses []use
	switch c.mode {
	case modeAS:
		uses = append(uses, use{catalog.ActiveStandby, "/ha/config/mode", "mode active-standby", 0})
	case modeDPI:
		uses = append(uses, use{catalog.AADPI, "/ha/config/mode", "mode active-active-dpi", 0},
			use{catalog.StatefulHA, "/ha/config/mode", "mode active-active-dpi (always stateful)", 0})
	case modeCluster:
		uses = append(uses, use{catalog.AAClustering, "/ha/config/mode", "mode active-active-cluster", 0})
		for _, id := range sortedKeys(c.nodes) {
			if isTrue(c.nodeCfg(id).ActiveActiveDpi) {
				p := nodePath(id) + "/config/active-active-dpi"
				uses = append(uses, use{catalog.AADPI, p, fmt.Sprintf("A/A DPI on cluster node %d", id), id},
					use{catalog.StatefulHA, p, fmt.Sprintf("A/A DPI on cluster node %d (stateful)", id), id})
			}
		}
	}
	if isTrue(c.haCfg().StatefulSync) {
		uses = append(uses, use{catalog.StatefulHA, "/ha/config/stateful-sync", "stateful-sync", 0})
	}
	done := map[string]bool{}
	share := true
	if lc := c.d.GetLicensing().GetConfig(); lc != nil && explicitFalse(lc.ShareLicences) {
		share = false
	}
	grp := c.groups()
	for _, u := range uses {
		key := fmt.Sprintf("%s/%d", u.f, u.node)
		if done[key] {
			continue
		}
		done[key] = true
		a := c.model.Feature(u.f)
		switch a.Status {
		case catalog.Included:
			continue
		case catalog.NotAvailable:
			c.errf(u.path, "LIC-1", fmt.Sprintf("do not use %s on %s, or use a model whose licence table offers it", u.f, c.plat),
				"%s needs feature %s, which is not available on model %s", u.what, u.f, c.plat)
			continue
		}
		licFix := func(serial string) string {
			return fmt.Sprintf("add one of %s to %s/config/licence (or apply its keyset)", strings.Join(a.Licences, ", "), unitPath(serial))
		}
		if len(c.devs) == 0 {
			ok := false
			if units := c.d.GetLicensing().GetUnits(); units != nil {
				for _, s := range sortedKeys(units.Unit) {
					if a.SatisfiedBy(c.unitLicences(s)) {
						ok = true
					}
				}
			}
			if !ok {
				c.errf(u.path, "LIC-1", "add one of "+strings.Join(a.Licences, ", ")+" to the primary unit's /licensing/units/unit[serial-number=...]/config/licence",
					"%s needs feature %s, which needs a licence on model %s (one of %s); no unit holds one", u.what, u.f, c.plat, strings.Join(a.Licences, ", "))
			}
			continue
		}
		for _, k := range sortedKeys(grp) {
			if u.node != 0 && k != u.node {
				continue
			}
			var holders []device
			for _, d := range grp[k] {
				if d.designation == primary || !share {
					holders = append(holders, d)
				}
			}
			if len(holders) == 0 {
				holders = grp[k]
			}
			for _, h := range holders {
				if !a.SatisfiedBy(c.unitLicences(h.serial)) {
					c.errf(u.path, "LIC-1", licFix(h.serial),
						"%s needs feature %s, which needs a licence on model %s (one of %s); unit %s holds none",
						u.what, u.f, c.plat, strings.Join(a.Licences, ", "), h.serial)
				}
			}
		}
	}
}

// lic5: two backup (slave) licences cannot form a pair or cluster.
func (c *checker) lic5() {
	if !c.haOn() {
		return
	}
	backup := func(s string) bool {
		return c.d.GetLicensing().GetUnits().GetUnit(s).GetConfig().GetHaLicenceType() == licBackup
	}
	allBackup := func(serials []string) bool {
		if len(serials) < 2 {
			return false
		}
		for _, s := range serials {
			if !backup(s) {
				return false
			}
		}
		return true
	}
	var sets [][]string
	if len(c.devs) == 0 {
		if units := c.d.GetLicensing().GetUnits(); units != nil {
			sets = append(sets, sortedKeys(units.Unit))
		}
	} else {
		var all []string
		for _, d := range c.devs {
			all = append(all, d.serial)
		}
		sets = append(sets, all)
		if c.cluster() {
			grp := c.groups()
			for _, k := range sortedKeys(grp) {
				var s []string
				for _, d := range grp[k] {
					s = append(s, d.serial)
				}
				sets = append(sets, s)
			}
		}
	}
	flagged := map[string][]string{}
	for _, s := range sets {
		if allBackup(s) {
			for _, serial := range s {
				flagged[serial] = s
			}
		}
	}
	for _, s := range sortedKeys(flagged) {
		c.errf(unitPath(s)+"/config/ha-licence-type", "LIC-5", "give one unit of the pair a standard (master) HA licence",
			"units %s all hold only a backup (slave) HA licence; two backup units cannot form a pair or cluster", strings.Join(flagged[s], ", "))
	}
}

// clu2: virtual groups: owners, ranks, addresses on zoned interfaces,
// one VG per address.
func (c *checker) clu2() {
	if !c.cluster() {
		return
	}
	if len(c.vgs) > 4 {
		c.errf("/cluster/virtual-groups", "CLU-2", "remove virtual groups; at most 4 are allowed",
			"%d virtual groups configured; at most 4 are allowed", len(c.vgs))
	}
	owners := map[string]string{}
	claim := func(path, addr string) {
		p, err := netip.ParsePrefix(addr)
		if err != nil {
			return
		}
		k := p.Addr().String()
		if prev, ok := owners[k]; ok {
			c.errf(path, "CLU-2", "use each virtual address once",
				"address %s is already configured at %s; a virtual address belongs to one interface of one virtual group", k, prev)
			return
		}
		owners[k] = path
	}
	for _, n := range sortedKeys(c.ifaces) {
		for _, a := range c.ifaces[n].Ipv4Address {
			claim(ifPath(n)+"/config/ipv4-address", a)
		}
		for _, a := range c.ifaces[n].Ipv6Address {
			claim(ifPath(n)+"/config/ipv6-address", a)
		}
	}
	for _, id := range sortedKeys(c.vgs) {
		vg := c.vgs[id]
		if int(id) > len(c.nodes) {
			c.errf(vgPath(id), "CLU-2", fmt.Sprintf("remove virtual group %d, or add cluster node %d", id, id),
				"virtual group %d has no node to own it: the cluster has %d node(s)", id, len(c.nodes))
		}
		var seen []uint8
		for _, r := range vg.GetConfig().GetNodeRank() {
			if _, ok := c.nodes[r]; !ok {
				c.errf(vgPath(id)+"/config/node-rank", "CLU-2", "rank only configured nodes",
					"virtual group %d ranks node %d, which is not configured", id, r)
			}
			if slices.Contains(seen, r) {
				c.errf(vgPath(id)+"/config/node-rank", "CLU-2", "name each node once",
					"virtual group %d ranks node %d twice", id, r)
			}
			seen = append(seen, r)
		}
		va := vg.GetVirtualAddresses()
		if va == nil {
			continue
		}
		for _, n := range sortedKeys(va.VirtualAddress) {
			cfg := va.VirtualAddress[n].GetConfig()
			if z := c.zone(n); z == zoneUnassigned || z == zoneHADataLink {
				if _, isLink := c.linkPort(n); !isLink {
					c.errf(vaPath(id, n), "CLU-2", fmt.Sprintf("assign %s to a zone (%s/config/zone), or remove the virtual addresses", n, ifPath(n)),
						"interface %s is %s; unassigned interfaces have no virtual addresses", n, z)
				}
			}
			for _, a := range cfg.GetIpv4Address() {
				claim(vaPath(id, n)+"/config/ipv4-address", a)
			}
			for _, a := range cfg.GetIpv6Address() {
				claim(vaPath(id, n)+"/config/ipv6-address", a)
			}
		}
	}
}

// clu13: a VG n>1 address on an interface needs a VG1 address of the
// same family there.
func (c *checker) clu13() {
	if !c.cluster() {
		return
	}
	vg1 := func(n string, fam int) bool {
		cfg := c.ifaces[n]
		va := c.vgAddrs(1, n)
		if fam == 4 {
			return len(cfg.GetIpv4Address()) > 0 || len(va.GetIpv4Address()) > 0
		}
		return len(cfg.GetIpv6Address()) > 0 || len(va.GetIpv6Address()) > 0
	}
	for _, id := range sortedKeys(c.vgs) {
		if id == 1 {
			continue
		}
		va := c.vgs[id].GetVirtualAddresses()
		if va == nil {
			continue
		}
		for _, n := range sortedKeys(va.VirtualAddress) {
			cfg := va.VirtualAddress[n].GetConfig()
			for _, fam := range []int{4, 6} {
				has := len(cfg.GetIpv4Address()) > 0
				leaf := "ipv4-address"
				if fam == 6 {
					has, leaf = len(cfg.GetIpv6Address()) > 0, "ipv6-address"
				}
				if has && !vg1(n, fam) {
					c.errf(vaPath(id, n)+"/config/"+leaf, "CLU-13",
						fmt.Sprintf("first give %s a virtual group 1 IPv%d address (%s/config/%s)", n, fam, ifPath(n), leaf),
						"virtual group %d has IPv%d addresses on %s, which has no virtual group 1 IPv%d address", id, fam, n, fam)
				}
			}
		}
	}
}

// clu14: physical monitoring cannot be disabled on interfaces with
// virtual addresses in a cluster.
func (c *checker) clu14() {
	if !c.cluster() {
		return
	}
	for _, s := range c.monScopes() {
		for _, mi := range s.ifaces {
			if explicitFalse(mi.physical) && c.hasVirtualAddrs(mi.name) {
				c.errf(mi.path+"/config/physical-monitoring", "CLU-14", "remove physical-monitoring or set it true",
					"interface %s has virtual addresses, so physical monitoring is implicit in a cluster and cannot be disabled", mi.name)
			}
		}
	}
}

// dpi2: DPI links on unassigned ports, dpi-2 needs dpi, DPI links only
// with A/A DPI.
func (c *checker) dpi2() {
	used := c.mode == modeDPI
	if c.cluster() {
		for id := range c.nodes {
			if isTrue(c.nodeCfg(id).ActiveActiveDpi) {
				used = true
			}
		}
		if _, ok := c.findLink(linkDPI); used && !ok {
			c.errf(linkPath(linkDPI), "DPI-2", "configure /ha/links/link[function=dpi] on an unassigned port cabled between the node's units",
				"A/A DPI on a cluster node needs a DPI link")
		}
	}
	_, hasDPI := c.findLink(linkDPI)
	for _, l := range c.links {
		if l.fn != linkDPI && l.fn != linkDPI2 {
			continue
		}
		if !used {
			c.errf(linkPath(l.fn), "DPI-2", "remove the link, or set mode active-active-dpi (or A/A DPI on a cluster node)",
				"the %s link is configured but no A/A DPI is in use (mode %s)", l.fn, c.mode)
		}
		c.unassigned(l, "DPI-2")
		if l.fn == linkDPI2 && !hasDPI {
			c.errf(linkPath(l.fn), "DPI-2", "configure the dpi link first; dpi-2 only takes over from it",
				"the dpi-2 link is configured without a dpi link")
		}
	}
	for _, n := range sortedKeys(c.ifaces) {
		if c.zone(n) != zoneHADataLink {
			continue
		}
		if l, ok := c.linkPort(n); !ok || (l.fn != linkDPI && l.fn != linkDPI2) {
			c.warnf(ifPath(n)+"/config/zone", "DPI-2", "set the zone to unassigned, or make the port a DPI link",
				"interface %s is in zone ha-data-link but is no DPI link", n)
		}
	}
}

// mon applies MON-4 to every monitored interface, MON-5 to every pair or
// node, and the MON-6 warning.
func (c *checker) mon() {
	scopes := c.monScopes()
	for _, s := range scopes {
		for _, mi := range s.ifaces {
			c.mon4(s, mi, 4, mi.v4)
			c.mon4(s, mi, 6, mi.v6)
		}
	}
	if c.cluster() {
		if m := c.d.GetMonitoring().GetInterfaces(); m != nil && len(m.Interface) > 0 {
			c.warnf("/monitoring/interfaces", "MON-6", "configure monitoring under /cluster/nodes/node[id=N]/monitoring",
				"in a cluster monitoring is configured per node; /monitoring/interfaces is ignored")
		}
	}
	if !c.haOn() || (c.known && !c.model.HA) {
		return
	}
	if !c.cluster() {
		s := monScope{path: "/monitoring"}
		for _, x := range scopes {
			if x.node == 0 {
				s = x
			}
		}
		c.mon5(s)
		return
	}
	for _, s := range scopes {
		if s.node != 0 {
			c.mon5(s)
		}
	}
}

// mon4 checks one address family of one monitored interface.
func (c *checker) mon4(s monScope, mi monIface, fam int, f famCfg) {
	base := fmt.Sprintf("%s/ipv%d/config/", mi.path, fam)
	prefixes := c.ifaceAddrs(mi.name, fam)
	addrFix := fmt.Sprintf("use an unused address of %s's IPv%d subnet", mi.name, fam)
	check := func(leaf string, v *string) (netip.Addr, bool) {
		a, ok := addrSet(v)
		if !ok {
			return a, false
		}
		if (fam == 4) != a.Unmap().Is4() {
			return a, true // YANG type check reports the family
		}
		switch {
		case a.IsLinkLocalUnicast():
			c.errf(base+leaf, "MON-4", addrFix, "monitoring address %s on %s is link-local; it must be in the interface's subnet", a, mi.name)
		case len(prefixes) == 0:
			c.errf(base+leaf, "MON-4", fmt.Sprintf("give %s an IPv%d address (%s/config/ipv%d-address), or remove the monitoring address", mi.name, fam, ifPath(mi.name), fam),
				"monitoring address %s must be in %s's subnet, but %s has no IPv%d address", a, mi.name, mi.name, fam)
		default:
			in, own := false, false
			for _, p := range prefixes {
				if p.Masked().Contains(a) {
					in = true
				}
				if p.Addr() == a {
					own = true
				}
			}
			if !in {
				c.errf(base+leaf, "MON-4", addrFix, "monitoring address %s is not in any subnet of %s (%s)", a, mi.name, prefixList(prefixes))
			} else if own {
				c.errf(base+leaf, "MON-4", addrFix, "monitoring address %s is %s's own (virtual) address; it must differ", a, mi.name)
			}
		}
		return a, true
	}
	p, pOK := check("primary-address", f.primary)
	sec, sOK := check("secondary-address", f.secondary)
	if pOK && sOK && p == sec {
		c.errf(base+"secondary-address", "MON-4", "give the secondary unit a different address",
			"primary and secondary monitoring addresses of %s are both %s", mi.name, p)
	}
	if isTrue(f.mgmt) && (!pOK || (!sOK && !s.single)) {
		c.errf(base+"allow-management", "MON-4", "set primary-address and secondary-address, or set allow-management false",
			"allow-management on %s (IPv%d) needs the monitoring addresses set", mi.name, fam)
	}
	if isTrue(f.probeOn) {
		if _, ok := addrSet(f.probe); !ok {
			c.errf(base+"logical-probe", "MON-4", "set probe-address, or set logical-probe false",
				"logical-probe on %s (IPv%d) needs a probe address", mi.name, fam)
		}
	}
}

func prefixList(ps []netip.Prefix) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Masked().String())
	}
	return strings.Join(out, ", ")
}

// mon5: without WAN monitoring addresses X0 needs them; monitoring only
// on WAN interfaces covers every WAN interface with an address.
func (c *checker) mon5(s monScope) {
	var withAddrs []string
	wanMon := false
	for _, mi := range s.ifaces {
		if hasMonAddrs(mi, s.single) {
			withAddrs = append(withAddrs, mi.name)
			if c.zone(mi.name) == zoneWAN {
				wanMon = true
			}
		}
	}
	who := "the pair"
	if s.node != 0 {
		who = fmt.Sprintf("cluster node %d", s.node)
	}
	if !wanMon {
		if !slices.Contains(withAddrs, "X0") {
			c.errf(s.path+"/interfaces/interface[name=X0]/ipv4/config/primary-address", "MON-5",
				"set the units' monitoring addresses on X0 (primary-address and secondary-address), or on the WAN interfaces",
				"no WAN interface of %s has monitoring addresses, so X0 needs them", who)
		}
		return
	}
	for _, n := range withAddrs {
		if c.zone(n) != zoneWAN {
			return
		}
	}
	for _, n := range sortedKeys(c.ifaces) {
		if c.zone(n) == zoneWAN && c.hasVirtualAddrs(n) && !slices.Contains(withAddrs, n) {
			c.errf(s.path+"/interfaces/interface[name="+n+"]/ipv4/config/primary-address", "MON-5",
				fmt.Sprintf("set monitoring addresses on %s too, or on X0", n),
				"monitoring addresses of %s are only on WAN interfaces, so every WAN interface with a virtual address needs them, %s included", who, n)
		}
	}
}
