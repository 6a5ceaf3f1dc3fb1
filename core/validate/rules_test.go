package validate

import (
	"slices"
	"strings"
	"testing"
)

const (
	devA   = "/ha/devices/device[serial-number=LAB-A]"
	devB   = "/ha/devices/device[serial-number=LAB-B]"
	monX0  = "/monitoring/interfaces/interface[name=X0]"
	monX0f = monX0 + "/ipv6/config/"
	unitA  = "/licensing/units/unit[serial-number=LAB-A]"
	unitB  = "/licensing/units/unit[serial-number=LAB-B]"
	n1p    = "/ha/devices/device[serial-number=SM96-N1-P]"
	n2s    = "/ha/devices/device[serial-number=SM96-N2-S]"
	node1  = "/cluster/nodes/node[id=1]"
	node2  = "/cluster/nodes/node[id=2]"
	vg2    = "/cluster/virtual-groups/virtual-group[id=2]"
)

// kvs joins change lists.
func kvs(lists ...[]kv) []kv { return slices.Concat(lists...) }

// aaDPI is pairConfig turned into an A/A DPI pair with the DPI link on X7.
var aaDPI = kvs(pairConfig, []kv{
	{"/ha/config/mode", `"active-active-dpi"`},
	{"/ha/links/link[function=dpi]/config/port", `"X7"`},
	{"/interfaces/interface[name=X7]/config/zone", `"ha-data-link"`},
})

// SPEC: MODE-1
func TestMODE1(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "pair with two primaries", base: pairConfig,
			bad:  []kv{{devB + "/config/designation", `"primary"`}},
			path: devB + "/config/designation", rule: "MODE-1"},
		{name: "pair with a third unit", base: pairConfig,
			bad:  []kv{{"/ha/devices/device[serial-number=LAB-C]/config/designation", `"secondary"`}},
			path: "/ha/devices/device[serial-number=LAB-C]", rule: "MODE-1"},
		{name: "cluster node outside cluster mode", base: pairConfig,
			bad:  []kv{{node1 + "/config/stateful", `true`}},
			path: node1, rule: "MODE-1"},
		{name: "A/A DPI node outside cluster mode", base: pairConfig,
			bad:  []kv{{node1 + "/config/active-active-dpi", `true`}},
			path: node1 + "/config/active-active-dpi", rule: "MODE-1"},
		{name: "virtual group outside cluster mode", base: pairConfig,
			bad:  []kv{{"/cluster/virtual-groups/virtual-group[id=1]/config/node-rank", `[1]`}},
			path: "/cluster/virtual-groups/virtual-group[id=1]", rule: "MODE-1"},
		{name: "A/A DPI node must be stateful", base: clusterConfig(),
			bad:  []kv{{node1 + "/config/stateful", `false`}},
			good: []kv{{node2 + "/config/stateful", `false`}},
			path: node1 + "/config/stateful", rule: "MODE-1"},
	})
}

// SPEC: MODE-2
func TestMODE2(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "stateful sync without HA mode", base: pairConfig,
			bad:  []kv{{"/ha/config/mode", `"standalone"`}},
			good: []kv{{"/ha/config/mode", `"standalone"`}, {"/ha/config/stateful-sync", `false`}},
			path: "/ha/config/stateful-sync", rule: "MODE-2"},
	})
}

// SPEC: MODE-3
func TestMODE3(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "stateful sync cannot be turned off", base: aaDPI,
			bad:  []kv{{"/ha/config/stateful-sync", `false`}},
			good: []kv{{"/ha/config/stateful-sync", ""}},
			path: "/ha/config/stateful-sync", rule: "MODE-3"},
		{name: "needs a DPI link", base: aaDPI,
			bad:  []kv{{"/ha/links/link[function=dpi]", ""}, {"/interfaces/interface[name=X7]/config/zone", `"unassigned"`}},
			path: "/ha/links/link[function=dpi]", rule: "MODE-3"},
		{name: "preempt warns", base: aaDPI, warning: true,
			bad:  []kv{{"/ha/config/preempt", `true`}},
			good: []kv{{"/ha/config/preempt", `false`}},
			path: "/ha/config/preempt", rule: "MODE-3"},
	})
}

// SPEC: MODE-4
func TestMODE4(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "unit without node", base: clusterConfig(),
			bad:  []kv{{n1p + "/config/cluster-node", ""}},
			path: n1p + "/config/cluster-node", rule: "MODE-4"},
		{name: "unit names a missing node", base: clusterConfig(),
			bad:  []kv{{"/cluster/nodes/node[id=3]", ""}},
			path: "/ha/devices/device[serial-number=SM96-N3-P]/config/cluster-node", rule: "MODE-4"},
		{name: "two secondaries in one node", base: clusterConfig(),
			bad:  []kv{{n2s + "/config/cluster-node", `1`}},
			good: []kv{{n2s + "/config/cluster-node", `2`}},
			path: n2s + "/config/designation", rule: "MODE-4"},
		{name: "cluster without nodes", base: kvs(pairConfig, []kv{{"/ha/config/mode", `"active-active-cluster"`}, {"/ha/config/stateful-sync", `false`}, {devA + "/config/cluster-node", `1`}, {devB + "/config/cluster-node", `1`}}),
			good: []kv{{node1 + "/config/stateful", `true`}, {node1 + "/monitoring/interfaces/interface[name=X0]/ipv4/config/primary-address", `"192.168.1.12"`}, {node1 + "/monitoring/interfaces/interface[name=X0]/ipv4/config/secondary-address", `"192.168.1.13"`}, {monX0, ""}, {"/monitoring/interfaces/interface[name=X1]", ""}},
			bad:  []kv{{monX0, ""}, {"/monitoring/interfaces/interface[name=X1]", ""}},
			path: "/cluster/nodes", rule: "MODE-4"},
	})
}

// SPEC: CLU-1
func TestCLU1(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "fifth node", base: clusterConfig(),
			bad:  []kv{{"/cluster/nodes/node[id=5]/config/stateful", `true`}},
			path: "/cluster/nodes/node[id=5]", rule: "CLU-1"},
		{name: "ninth unit", base: clusterConfig(),
			bad:  []kv{{"/ha/devices/device[serial-number=SM96-N9]/config/designation", `"primary"`}, {"/ha/devices/device[serial-number=SM96-N9]/config/cluster-node", `4`}},
			path: "/ha/devices", rule: "CLU-1"},
	})
}

// SPEC: MODE-5
func TestMODE5(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "secondary is another model", base: pairConfig,
			bad:  []kv{{devB + "/config/model", `"nsa-6600"`}},
			good: []kv{{devB + "/config/model", ""}},
			path: devB + "/config/model", rule: "MODE-5"},
		{name: "units differ from the platform model", base: pairConfig,
			bad:  []kv{{devA + "/config/model", `"nsa-4600"`}, {devB + "/config/model", `"nsa-4600"`}},
			good: onModel("nsa-4600"),
			path: devA + "/config/model", rule: "MODE-5"},
	})
}

// SPEC: ROLE-5
func TestROLE5(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "active-if-equal names a missing unit", base: kvs(pairConfig, []kv{{"/ha/config/active-if-equal", `"secondary"`}}),
			bad:  []kv{{devB, ""}},
			path: "/ha/config/active-if-equal", rule: "ROLE-5"},
	})
}

// SPEC: LIC-1
func TestLIC1(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "stateful HA not available on tz-300", base: kvs(pairConfig, onModel("tz-300")),
			good: []kv{{"/ha/config/stateful-sync", `false`}},
			path: "/ha/config/stateful-sync", rule: "LIC-1"},
		{name: "stateful HA needs a licence on tz-500", base: kvs(pairConfig, onModel("tz-500")),
			good: []kv{{unitA + "/config/licence", `["stateful-ha"]`}},
			path: "/ha/config/stateful-sync", rule: "LIC-1"},
		{name: "the secondary's licence does not count", base: kvs(pairConfig, onModel("nsa-2600")),
			bad:  []kv{{unitB + "/config/licence", `["expanded"]`}},
			good: []kv{{unitA + "/config/licence", `["expanded"]`}},
			path: "/ha/config/stateful-sync", rule: "LIC-1"},
		{name: "A/A DPI not available on nsa-4600", base: kvs(aaDPI, onModel("nsa-4600")),
			good: []kv{{"/ha/config/mode", `"active-standby"`}, {"/ha/links/link[function=dpi]", ""}, {"/interfaces/interface[name=X7]/config/zone", `"unassigned"`}},
			path: "/ha/config/mode", rule: "LIC-1"},
		{name: "A/A clustering needs the expanded licence on nsa-6600", base: clusterOn("nsa-6600", "X16", "X15", "X14"),
			good: []kv{
				{"/licensing/units/unit[serial-number=SM96-N1-P]/config/licence", `["expanded"]`},
				{"/licensing/units/unit[serial-number=SM96-N2-P]/config/licence", `["aa-clustering"]`},
				{"/licensing/units/unit[serial-number=SM96-N3-P]/config/licence", `["expanded"]`},
				{"/licensing/units/unit[serial-number=SM96-N4-P]/config/licence", `["expanded"]`},
			},
			path: "/ha/config/mode", rule: "LIC-1"},
		{name: "A/A DPI on a node needs its licence", base: kvs(clusterOn("nsa-6600", "X16", "X15", "X14"), []kv{
			{"/licensing/units/unit[serial-number=SM96-N1-P]/config/licence", `["aa-clustering"]`},
			{"/licensing/units/unit[serial-number=SM96-N2-P]/config/licence", `["aa-clustering"]`},
			{"/licensing/units/unit[serial-number=SM96-N3-P]/config/licence", `["aa-clustering"]`},
			{"/licensing/units/unit[serial-number=SM96-N4-P]/config/licence", `["aa-clustering"]`},
		}),
			good: []kv{{"/licensing/units/unit[serial-number=SM96-N1-P]/config/licence", `["aa-clustering", "aa-dpi"]`}},
			path: node1 + "/config/active-active-dpi", rule: "LIC-1"},
	})
}

// SPEC: LIC-5
func TestLIC5(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "two backup licences", base: kvs(pairConfig, []kv{{unitB + "/config/ha-licence-type", `"backup"`}}),
			bad:  []kv{{unitA + "/config/ha-licence-type", `"backup"`}},
			good: []kv{{unitA + "/config/ha-licence-type", `"standard"`}},
			path: unitA + "/config/ha-licence-type", rule: "LIC-5"},
	})
}

// SPEC: CLU-2
func TestCLU2(t *testing.T) {
	drop4 := []kv{{"/cluster/nodes/node[id=4]", ""},
		{"/ha/devices/device[serial-number=SM96-N4-P]", ""}, {"/ha/devices/device[serial-number=SM96-N4-S]", ""}}
	runCases(t, []ruleCase{
		{name: "VG without an owner node", base: clusterConfig(),
			bad:  drop4,
			good: kvs(drop4, []kv{{"/cluster/virtual-groups/virtual-group[id=4]", ""}, {"/cluster/virtual-groups/virtual-group[id=1]/config/node-rank", `[1, 2, 3]`}}),
			path: "/cluster/virtual-groups/virtual-group[id=4]", rule: "CLU-2"},
		{name: "VG address on an unassigned interface", base: clusterConfig(),
			bad:  []kv{{vg2 + "/virtual-addresses/virtual-address[interface=X5]/config/ipv4-address", `["172.20.0.2/24"]`}},
			good: []kv{{vg2 + "/virtual-addresses/virtual-address[interface=X2]/config/ipv4-address", `["172.16.0.2/24"]`}},
			path: vg2 + "/virtual-addresses/virtual-address[interface=X5]", rule: "CLU-2"},
		{name: "address in two VGs", base: clusterConfig(),
			bad:  []kv{{"/cluster/virtual-groups/virtual-group[id=3]/virtual-addresses/virtual-address[interface=X0]/config/ipv4-address", `["10.0.0.2/24"]`}},
			path: "/cluster/virtual-groups/virtual-group[id=3]/virtual-addresses/virtual-address[interface=X0]/config/ipv4-address", rule: "CLU-2"},
	})
}

// SPEC: CLU-13
func TestCLU13(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "VG2 IPv4 before VG1", base: kvs(clusterConfig(), []kv{{"/interfaces/interface[name=X3]/config/zone", `"dmz"`}, {vg2 + "/virtual-addresses/virtual-address[interface=X3]/config/ipv4-address", `["172.16.1.2/24"]`}}),
			good: []kv{{"/interfaces/interface[name=X3]/config/ipv4-address", `["172.16.1.1/24"]`}},
			path: vg2 + "/virtual-addresses/virtual-address[interface=X3]/config/ipv4-address", rule: "CLU-13"},
		{name: "VG2 IPv6 before VG1 IPv6", base: kvs(clusterConfig(), []kv{{vg2 + "/virtual-addresses/virtual-address[interface=X1]/config/ipv6-address", `["2001:db8:2::2/64"]`}}),
			good: []kv{{"/cluster/virtual-groups/virtual-group[id=1]/virtual-addresses/virtual-address[interface=X1]/config/ipv6-address", `["2001:db8:2::1/64"]`}},
			path: vg2 + "/virtual-addresses/virtual-address[interface=X1]/config/ipv6-address", rule: "CLU-13"},
	})
}

// SPEC: CLU-14
func TestCLU14(t *testing.T) {
	mon := node2 + "/monitoring/interfaces/interface[name=X0]/config/physical-monitoring"
	runCases(t, []ruleCase{
		{name: "physical monitoring off on a virtual-address interface", base: clusterConfig(),
			bad:  []kv{{mon, `false`}},
			good: []kv{{mon, ""}, {node2 + "/monitoring/interfaces/interface[name=X5]/config/physical-monitoring", `false`}},
			path: mon, rule: "CLU-14"},
	})
}

// SPEC: DPI-2
func TestDPI2(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "DPI port in a zone", base: aaDPI,
			bad:  []kv{{"/interfaces/interface[name=X7]/config/zone", `"lan"`}},
			good: []kv{{"/interfaces/interface[name=X7]/config/zone", `"unassigned"`}},
			path: "/interfaces/interface[name=X7]/config/zone", rule: "DPI-2"},
		{name: "DPI port with an address", base: aaDPI,
			bad:  []kv{{"/interfaces/interface[name=X7]/config/ipv4-address", `["10.7.0.1/24"]`}},
			path: "/interfaces/interface[name=X7]/config/ipv4-address", rule: "DPI-2"},
		{name: "dpi-2 on the dpi port", base: aaDPI,
			bad:  []kv{{"/ha/links/link[function=dpi-2]/config/port", `"X7"`}},
			good: []kv{{"/ha/links/link[function=dpi-2]/config/port", `"X6"`}},
			path: "/ha/links/link[function=dpi-2]/config/port", rule: "DPI-2"},
		{name: "dpi-2 without dpi", base: kvs(aaDPI, []kv{{"/ha/links/link[function=dpi-2]/config/port", `"X6"`}}),
			bad:  []kv{{"/ha/links/link[function=dpi]", ""}},
			path: "/ha/links/link[function=dpi-2]", rule: "DPI-2"},
		{name: "DPI link without A/A DPI", base: kvs(pairConfig, []kv{{"/ha/links/link[function=dpi]/config/port", `"X7"`}}),
			good: []kv{{"/ha/config/mode", `"active-active-dpi"`}},
			path: "/ha/links/link[function=dpi]", rule: "DPI-2"},
		{name: "A/A DPI cluster node without DPI link", base: clusterConfig(),
			bad:  []kv{{"/ha/links/link[function=dpi]", ""}, {"/interfaces/interface[name=X18]/config/zone", `"unassigned"`}},
			path: "/ha/links/link[function=dpi]", rule: "DPI-2"},
	})
}

// SPEC: PLAT-1
func TestPLAT1(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "unknown platform model", base: pairConfig,
			bad:  onModel("nsa-9999"),
			good: onModel("nsa-4600"),
			path: "/platform/config/model", rule: "PLAT-1"},
		{name: "soho-w has no HA", base: kvs(pairConfig, onModel("soho-w")),
			good: []kv{{"/ha/config/mode", `"standalone"`}, {"/ha/config/stateful-sync", `false`}},
			path: "/ha/config/mode", rule: "PLAT-1"},
		{name: "link port beyond the port map", base: kvs(pairConfig, onModel("tz-300"), []kv{{"/ha/config/stateful-sync", `false`}}),
			bad:  []kv{{"/ha/links/link[function=data]/config/port", `"X7"`}},
			good: []kv{{"/ha/links/link[function=data]/config/port", `"X7"`}, {devA + "/config/port-count", `8`}, {devB + "/config/port-count", `8`}},
			path: "/ha/links/link[function=data]/config/port", rule: "PLAT-1"},
		{name: "monitored interface beyond the port map", base: kvs(pairConfig, onModel("tz-300"), []kv{{"/ha/config/stateful-sync", `false`}}),
			bad:  []kv{{"/monitoring/interfaces/interface[name=X5]/config/weight", `50`}},
			good: []kv{{"/monitoring/interfaces/interface[name=X4]/config/weight", `50`}},
			path: "/monitoring/interfaces/interface[name=X5]", rule: "PLAT-1"},
	})
}

// SPEC: PLAT-3
func TestPLAT3(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "control port in a zone", base: pairConfig,
			bad:  []kv{{"/interfaces/interface[name=X3]/config/zone", `"lan"`}},
			path: "/interfaces/interface[name=X3]/config/zone", rule: "PLAT-3"},
		{name: "data port with an address", base: pairConfig,
			bad:  []kv{{"/interfaces/interface[name=X4]/config/ipv4-address", `["10.4.0.1/24"]`}},
			path: "/interfaces/interface[name=X4]/config/ipv4-address", rule: "PLAT-3"},
		{name: "control port NATed", base: pairConfig,
			bad:  []kv{{"/interfaces/interface[name=X3]/config/nat", `true`}},
			good: []kv{{"/interfaces/interface[name=X3]/config/nat", `false`}},
			path: "/interfaces/interface[name=X3]/config/nat", rule: "PLAT-3"},
		{name: "data on the control port", base: pairConfig,
			bad:  []kv{{"/ha/links/link[function=data]/config/port", `"X3"`}},
			path: "/ha/links/link[function=data]/config/port", rule: "PLAT-3"},
		{name: "backup control on an assigned port other than X0", base: kvs(pairConfig, []kv{{"/interfaces/interface[name=X5]/config/zone", `"lan"`}, {"/interfaces/interface[name=X5]/config/ipv4-address", `["192.168.5.1/24"]`}}),
			bad:  []kv{{"/ha/links/link[function=backup-control]/config/port", `"X5"`}},
			path: "/interfaces/interface[name=X5]/config/zone", rule: "PLAT-3"},
	})
}

// SPEC: PLAT-4
func TestPLAT4(t *testing.T) {
	standalone := []kv{{"/ha/config/mode", `"standalone"`}, {"/ha/config/stateful-sync", `false`}}
	runCases(t, []ruleCase{
		{name: "PortShield with HA", base: kvs(pairConfig, []kv{{"/interfaces/interface[name=X2]/config/portshield-to", `"X0"`}}),
			good: standalone,
			path: "/interfaces/interface[name=X2]/config/portshield-to", rule: "PLAT-4"},
		{name: "bypass with HA", base: pairConfig,
			bad:  []kv{{"/interfaces/interface[name=X2]/config/bypass", `true`}},
			good: []kv{{"/interfaces/interface[name=X2]/config/bypass", `false`}},
			path: "/interfaces/interface[name=X2]/config/bypass", rule: "PLAT-4"},
	})
}

// SPEC: TKO-6
// With aggregates-up-on-passive false an HA link cannot run over a link
// aggregate (the passive keeps HA links up, so it could not hold the
// aggregate down); with the option on, on a port without an HA link, on
// a disabled interface or in standalone mode it can.
func TestTKO6(t *testing.T) {
	const agg = "/interfaces/interface[name=X0]/config/link-aggregate"
	off := kvs(pairConfig, []kv{{"/ha/config/aggregates-up-on-passive", `false`}})
	runCases(t, []ruleCase{
		{name: "aggregate carrying the backup heartbeat", base: off,
			bad:  []kv{{agg, `true`}},
			good: []kv{{agg, `true`}, {"/ha/config/aggregates-up-on-passive", `true`}},
			path: agg, rule: "TKO-6"},
		{name: "aggregate without an HA link", base: off,
			bad:  []kv{{agg, `true`}},
			good: []kv{{"/interfaces/interface[name=X1]/config/link-aggregate", `true`}},
			path: agg, rule: "TKO-6"},
		{name: "disabled aggregate", base: off,
			bad:  []kv{{agg, `true`}},
			good: []kv{{agg, `true`}, {"/interfaces/interface[name=X0]/config/enabled", `false`}},
			path: agg, rule: "TKO-6"},
		{name: "standalone", base: off,
			bad:  []kv{{agg, `true`}},
			good: []kv{{agg, `true`}, {"/ha/config/mode", `"standalone"`}, {"/ha/config/stateful-sync", `false`}},
			path: agg, rule: "TKO-6"},
	})
	for _, is := range Validate(build(t, off, []kv{{agg, `true`}})).Errors {
		if is.Rule == "TKO-6" && (!strings.Contains(is.Message, "HA backup-control link") || !strings.Contains(is.Fix, "aggregates-up-on-passive true")) {
			t.Errorf("the issue does not say why or what to do: %s", is.Error())
		}
	}
}

// SPEC: PLAT-5
func TestPLAT5(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "different interface counts", base: pairConfig,
			bad:  []kv{{devB + "/config/port-count", `12`}},
			good: []kv{{devA + "/config/port-count", `12`}, {devB + "/config/port-count", `12`}},
			path: devB + "/config/port-count", rule: "PLAT-5"},
	})
}

// SPEC: MON-4
func TestMON4(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "IPv6 outside the interface subnet", base: pairConfig,
			bad:  []kv{{monX0f + "primary-address", `"2001:db8:2::2"`}},
			good: []kv{{monX0f + "primary-address", `"2001:db8:1::22"`}},
			path: monX0f + "primary-address", rule: "MON-4"},
		{name: "IPv6 link-local", base: pairConfig,
			bad:  []kv{{monX0f + "secondary-address", `"fe80::3"`}},
			path: monX0f + "secondary-address", rule: "MON-4"},
		{name: "IPv6 equal to the interface address", base: pairConfig,
			bad:  []kv{{monX0f + "primary-address", `"2001:db8:1::1"`}},
			path: monX0f + "primary-address", rule: "MON-4"},
		{name: "IPv6 primary equals secondary", base: pairConfig,
			bad:  []kv{{monX0f + "secondary-address", `"2001:db8:1::2"`}},
			path: monX0f + "secondary-address", rule: "MON-4"},
		{name: "IPv6 management needs both addresses", base: pairConfig,
			bad:  []kv{{monX0f + "secondary-address", `"::"`}},
			good: []kv{{monX0f + "secondary-address", `"::"`}, {monX0f + "allow-management", `false`}},
			path: monX0f + "allow-management", rule: "MON-4"},
		{name: "IPv6 probe needs a probe address", base: pairConfig,
			bad:  []kv{{monX0f + "logical-probe", `true`}},
			good: []kv{{monX0f + "logical-probe", `true`}, {monX0f + "probe-address", `"2001:db8:1::fe"`}},
			path: monX0f + "logical-probe", rule: "MON-4"},
		{name: "IPv4 outside the interface subnet", base: pairConfig,
			bad:  []kv{{monX0 + "/ipv4/config/primary-address", `"10.9.9.9"`}},
			path: monX0 + "/ipv4/config/primary-address", rule: "MON-4"},
		{name: "IPv6 on an interface without IPv6", base: pairConfig,
			bad:  []kv{{"/monitoring/interfaces/interface[name=X1]/ipv6/config/primary-address", `"2001:db8:9::2"`}},
			good: []kv{{"/interfaces/interface[name=X1]/config/ipv6-address", `["2001:db8:9::1/64"]`}, {"/monitoring/interfaces/interface[name=X1]/ipv6/config/primary-address", `"2001:db8:9::2"`}},
			path: "/monitoring/interfaces/interface[name=X1]/ipv6/config/primary-address", rule: "MON-4"},
		{name: "cluster node monitoring (MON-6)", base: clusterConfig(),
			bad:  []kv{{node2 + "/monitoring/interfaces/interface[name=X0]/ipv4/config/primary-address", `"10.0.0.3"`}},
			good: []kv{{node2 + "/monitoring/interfaces/interface[name=X0]/ipv4/config/primary-address", `"10.0.0.33"`}},
			path: node2 + "/monitoring/interfaces/interface[name=X0]/ipv4/config/primary-address", rule: "MON-4"},
	})
}

// SPEC: MON-5
func TestMON5(t *testing.T) {
	x1 := "/monitoring/interfaces/interface[name=X1]/ipv4/config/"
	x2 := "/monitoring/interfaces/interface[name=X2]/ipv4/config/"
	onlyWAN := kvs(pairConfig, []kv{{monX0, ""}, {x1 + "primary-address", `"203.0.113.3"`}, {x1 + "secondary-address", `"203.0.113.4"`}})
	runCases(t, []ruleCase{
		{name: "no WAN monitoring and none on X0", base: pairConfig,
			bad:  []kv{{monX0, ""}},
			good: []kv{{monX0, ""}, {x1 + "primary-address", `"203.0.113.3"`}, {x1 + "secondary-address", `"203.0.113.4"`}},
			path: monX0 + "/ipv4/config/primary-address", rule: "MON-5"},
		{name: "WAN-only monitoring misses a WAN interface", base: kvs(onlyWAN, []kv{{"/interfaces/interface[name=X2]/config/zone", `"wan"`}, {"/interfaces/interface[name=X2]/config/ipv4-address", `["198.51.100.2/24"]`}}),
			good: []kv{{x2 + "primary-address", `"198.51.100.3"`}, {x2 + "secondary-address", `"198.51.100.4"`}},
			path: x2 + "primary-address", rule: "MON-5"},
		{name: "per cluster node", base: clusterConfig(),
			bad:  []kv{{node2 + "/monitoring/interfaces/interface[name=X0]/ipv4", ""}},
			path: node2 + "/monitoring/interfaces/interface[name=X0]/ipv4/config/primary-address", rule: "MON-5"},
	})
}

// SPEC: MON-6
func TestMON6(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "pair monitoring ignored in a cluster", base: clusterConfig(), warning: true,
			bad:  []kv{{"/monitoring/interfaces/interface[name=X2]/config/physical-monitoring", `true`}},
			path: "/monitoring/interfaces", rule: "MON-6"},
	})
}

func TestYANGErrorsAreIssues(t *testing.T) {
	d := build(t, pairConfig)
	d.Interfaces.Interface["X0"].Config.Ipv4Address = []string{"300.1.1.1/24"}
	delete(d.Ha.Devices.Device, "LAB-B")
	apply(t, d, []kv{{"/ha/devices/device[serial-number=LAB-C]/config/model", `"lab"`}})
	r := Validate(d)
	if !has(r.Errors, "/interfaces/interface[name=X0]/config/ipv4-address", "YANG") {
		t.Errorf("want YANG issue for the address:%s", dump(r.Errors))
	}
	if !has(r.Errors, "/ha/devices/device[serial-number=LAB-C]/config/designation", "YANG") {
		t.Errorf("want YANG issue for the missing designation:%s", dump(r.Errors))
	}
	if Validate(build(t, pairConfig)).Err() != nil {
		t.Error("base config refused")
	}
}

func TestAllIssuesReportedTogether(t *testing.T) {
	d := build(t, aaDPI, []kv{
		{"/ha/config/stateful-sync", `false`},                                   // MODE-3
		{"/ha/config/preempt", `true`},                                          // MODE-3 warning
		{"/ha/links/link[function=dpi]", ""},                                    // MODE-3
		{"/interfaces/interface[name=X2]/config/portshield-to", `"X0"`},         // PLAT-4
		{devB + "/config/model", `"nsa-6600"`},                                  // MODE-5
		{monX0 + "/ipv4/config/secondary-address", `"10.9.9.9"`},                // MON-4
		{"/interfaces/interface[name=X3]/config/zone", `"dmz"`},                 // PLAT-3
		{"/ha/config/active-if-equal", `"primary"`},                             // fine
		{"/cluster/virtual-groups/virtual-group[id=2]/config/node-rank", `[2]`}, // MODE-1
	})
	d.Interfaces.Interface["X1"].Config.Ipv4Address = []string{"203.0.113.999/24"} // YANG
	r := Validate(d)
	want := []struct{ path, rule string }{
		{"/cluster/virtual-groups/virtual-group[id=2]", "MODE-1"},
		{"/ha/config/stateful-sync", "MODE-3"},
		{"/ha/devices/device[serial-number=LAB-B]/config/model", "MODE-5"},
		{"/ha/devices/device[serial-number=LAB-B]/config/port-count", "PLAT-5"},
		{"/ha/links/link[function=dpi]", "MODE-3"},
		{"/interfaces/interface[name=X1]/config/ipv4-address", "YANG"},
		{"/interfaces/interface[name=X2]/config/portshield-to", "PLAT-4"},
		{"/interfaces/interface[name=X3]/config/zone", "PLAT-3"},
		{monX0 + "/ipv4/config/secondary-address", "MON-4"},
	}
	for _, w := range want {
		if !has(r.Errors, w.path, w.rule) {
			t.Errorf("missing %s at %s", w.rule, w.path)
		}
	}
	if len(r.Errors) != len(want) {
		t.Errorf("got %d errors, want %d:%s", len(r.Errors), len(want), dump(r.Errors))
	}
	if !slices.IsSortedFunc(r.Errors, func(a, b Issue) int { return strings.Compare(a.Path, b.Path) }) {
		t.Errorf("errors not sorted by path:%s", dump(r.Errors))
	}
	if !has(r.Warnings, "/ha/config/preempt", "MODE-3") {
		t.Errorf("missing preempt warning:%s", dump(r.Warnings))
	}
	err := r.Err()
	if err == nil || strings.Count(err.Error(), "\n") != len(want)-1 {
		t.Fatalf("Err() = %v", err)
	}
	warns, serr := StoreValidator(d)
	if serr == nil || serr.Error() != err.Error() || len(warns) != len(r.Warnings) || !strings.HasPrefix(warns[0], "/ha/config/preempt: MODE-3: ") {
		t.Errorf("StoreValidator = %q, %v", warns, serr)
	}
	if w, e := StoreValidator(build(t, pairConfig)); e != nil || len(w) != 0 {
		t.Errorf("StoreValidator(clean) = %q, %v", w, e)
	}
}

func TestIssueFormat(t *testing.T) {
	i := Issue{Path: "/ha/config/mode", Rule: "PLAT-1", Message: "no HA", Fix: "set standalone"}
	if got, want := i.Error(), "/ha/config/mode: PLAT-1: no HA; fix: set standalone"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e := Errors{i, i}
	if got := e.Error(); got != i.Error()+"\n"+i.Error() {
		t.Errorf("Errors.Error() = %q", got)
	}
	if (Report{}).Err() != nil {
		t.Error("empty report must have nil Err")
	}
	if r := Validate(nil); r.Err() != nil {
		t.Errorf("nil device: %v", r.Err())
	}
}
