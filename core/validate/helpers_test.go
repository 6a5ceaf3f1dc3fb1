package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// kv is one change to a configuration: set path to the JSON value, or
// delete path when value is empty.
type kv struct{ path, value string }

func apply(t *testing.T, d *tandem.Device, kvs []kv) {
	t.Helper()
	for _, c := range kvs {
		var err error
		if c.value == "" {
			err = model.Delete(d, c.path)
		} else {
			err = model.Set(d, c.path, []byte(c.value))
		}
		if err != nil {
			t.Fatalf("apply %s = %s: %v", c.path, c.value, err)
		}
	}
}

func build(t *testing.T, kvs ...[]kv) *tandem.Device {
	t.Helper()
	d := model.Default()
	for _, k := range kvs {
		apply(t, d, k)
	}
	return d
}

// pairConfig is a sensible full active-standby configuration on the lab
// platform.
var pairConfig = []kv{
	{"/ha/config/mode", `"active-standby"`},
	{"/ha/config/stateful-sync", `true`},
	{"/ha/config/pre-shared-key", `"correct horse battery"`},
	{"/ha/config/virtual-mac", `true`},
	{"/ha/devices/device[serial-number=LAB-A]/config/designation", `"primary"`},
	{"/ha/devices/device[serial-number=LAB-A]/config/model", `"lab"`},
	{"/ha/devices/device[serial-number=LAB-B]/config/designation", `"secondary"`},
	{"/ha/devices/device[serial-number=LAB-B]/config/model", `"lab"`},
	{"/ha/links/link[function=control]/config/port", `"X3"`},
	{"/ha/links/link[function=control]/config/primary-address", `"10.255.0.1/30"`},
	{"/ha/links/link[function=control]/config/secondary-address", `"10.255.0.2/30"`},
	{"/ha/links/link[function=data]/config/port", `"X4"`},
	{"/ha/links/link[function=backup-control]/config/port", `"X0"`},
	{"/interfaces/interface[name=X0]/config/zone", `"lan"`},
	{"/interfaces/interface[name=X0]/config/ipv4-address", `["192.168.1.1/24"]`},
	{"/interfaces/interface[name=X0]/config/ipv6-address", `["2001:db8:1::1/64"]`},
	{"/interfaces/interface[name=X1]/config/zone", `"wan"`},
	{"/interfaces/interface[name=X1]/config/ipv4-address", `["203.0.113.2/24"]`},
	{"/interfaces/interface[name=X1]/config/nat", `true`},
	{"/interfaces/interface[name=X3]/config/zone", `"unassigned"`},
	{"/interfaces/interface[name=X4]/config/zone", `"unassigned"`},
	{"/monitoring/interfaces/interface[name=X0]/config/physical-monitoring", `true`},
	{"/monitoring/interfaces/interface[name=X0]/ipv4/config/primary-address", `"192.168.1.2"`},
	{"/monitoring/interfaces/interface[name=X0]/ipv4/config/secondary-address", `"192.168.1.3"`},
	{"/monitoring/interfaces/interface[name=X0]/ipv4/config/allow-management", `true`},
	{"/monitoring/interfaces/interface[name=X0]/ipv6/config/primary-address", `"2001:db8:1::2"`},
	{"/monitoring/interfaces/interface[name=X0]/ipv6/config/secondary-address", `"2001:db8:1::3"`},
	{"/monitoring/interfaces/interface[name=X0]/ipv6/config/allow-management", `true`},
	{"/monitoring/interfaces/interface[name=X1]/config/physical-monitoring", `true`},
	{"/monitoring/interfaces/interface[name=X1]/ipv4/config/probe-address", `"203.0.113.1"`},
	{"/monitoring/interfaces/interface[name=X1]/ipv4/config/logical-probe", `true`},
}

// onModel moves pairConfig to another platform model.
func onModel(m string) []kv {
	return []kv{
		{"/platform/config/model", fmt.Sprintf("%q", m)},
		{"/ha/devices/device[serial-number=LAB-A]/config/model", fmt.Sprintf("%q", m)},
		{"/ha/devices/device[serial-number=LAB-B]/config/model", fmt.Sprintf("%q", m)},
	}
}

// clusterConfig is a 4-node, 4-VG cluster of 8 sm-9600 units; node 1
// runs A/A DPI.
func clusterConfig() []kv { return clusterOn("sm-9600", "X20", "X19", "X18") }

// clusterOn is clusterConfig on another model, with the control, data and
// DPI link ports given.
func clusterOn(m, ctl, data, dpi string) []kv {
	kvs := []kv{
		{"/platform/config/model", `"` + m + `"`},
		{"/ha/config/mode", `"active-active-cluster"`},
		{"/ha/config/pre-shared-key", `"correct horse battery"`},
		{"/ha/links/link[function=control]/config/port", `"` + ctl + `"`},
		{"/ha/links/link[function=data]/config/port", `"` + data + `"`},
		{"/ha/links/link[function=dpi]/config/port", `"` + dpi + `"`},
		{"/ha/links/link[function=backup-control]/config/port", `"X0"`},
		{"/interfaces/interface[name=X0]/config/zone", `"lan"`},
		{"/interfaces/interface[name=X0]/config/ipv4-address", `["10.0.0.1/24"]`},
		{"/interfaces/interface[name=X0]/config/ipv6-address", `["2001:db8::1/64"]`},
		{"/interfaces/interface[name=X1]/config/zone", `"wan"`},
		{"/interfaces/interface[name=X1]/config/ipv4-address", `["198.51.100.1/24"]`},
		{"/interfaces/interface[name=X2]/config/zone", `"dmz"`},
		{"/interfaces/interface[name=X2]/config/ipv4-address", `["172.16.0.1/24"]`},
		{"/interfaces/interface[name=" + dpi + "]/config/zone", `"ha-data-link"`},
		{"/interfaces/interface[name=" + data + "]/config/zone", `"unassigned"`},
		{"/interfaces/interface[name=" + ctl + "]/config/zone", `"unassigned"`},
		{"/cluster/nodes/node[id=1]/config/active-active-dpi", `true`},
		{"/cluster/virtual-groups/virtual-group[id=1]/config/node-rank", `[1, 2, 3, 4]`},
	}
	for n := 1; n <= 4; n++ {
		for _, des := range []string{"primary", "secondary"} {
			s := fmt.Sprintf("SM96-N%d-%s", n, strings.ToUpper(des[:1]))
			kvs = append(kvs,
				kv{"/ha/devices/device[serial-number=" + s + "]/config/designation", `"` + des + `"`},
				kv{"/ha/devices/device[serial-number=" + s + "]/config/model", `"` + m + `"`},
				kv{"/ha/devices/device[serial-number=" + s + "]/config/cluster-node", fmt.Sprint(n)})
		}
		node := fmt.Sprintf("/cluster/nodes/node[id=%d]", n)
		mon := node + "/monitoring/interfaces/interface[name=X0]"
		kvs = append(kvs,
			kv{node + "/config/stateful", `true`},
			kv{mon + "/config/physical-monitoring", `true`},
			kv{mon + "/ipv4/config/primary-address", fmt.Sprintf(`"10.0.0.1%d"`, n)},
			kv{mon + "/ipv4/config/secondary-address", fmt.Sprintf(`"10.0.0.2%d"`, n)},
			kv{mon + "/ipv4/config/allow-management", `true`},
		)
		if n > 1 {
			vg := fmt.Sprintf("/cluster/virtual-groups/virtual-group[id=%d]", n)
			kvs = append(kvs,
				kv{vg + "/config/node-rank", fmt.Sprintf("[%d]", n)},
				kv{vg + "/virtual-addresses/virtual-address[interface=X0]/config/ipv4-address", fmt.Sprintf(`["10.0.0.%d/24"]`, n)},
				kv{vg + "/virtual-addresses/virtual-address[interface=X1]/config/ipv4-address", fmt.Sprintf(`["198.51.100.%d/24"]`, n)},
			)
		}
	}
	return kvs
}

func dump(issues []Issue) string {
	var b strings.Builder
	for _, i := range issues {
		b.WriteString("\n\t" + i.Error())
	}
	return b.String()
}

func has(issues []Issue, path, rule string) bool {
	for _, i := range issues {
		if i.Path == path && i.Rule == rule {
			return true
		}
	}
	return false
}

// ruleCase proves one rule: the refused configuration (base + bad) has
// an issue at path with rule; the accepted one (base + good) is clean.
type ruleCase struct {
	name       string
	base       []kv
	bad, good  []kv
	path, rule string
	warning    bool // the issue is a warning, not an error
}

func runCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := Validate(build(t, c.base, c.bad))
			list := bad.Errors
			if c.warning {
				list = bad.Warnings
			}
			if !has(list, c.path, c.rule) {
				t.Errorf("refused config: want %s at %s; errors:%s\nwarnings:%s", c.rule, c.path, dump(bad.Errors), dump(bad.Warnings))
			}
			good := Validate(build(t, c.base, c.good))
			if len(good.Errors) > 0 {
				t.Errorf("accepted config has errors:%s", dump(good.Errors))
			}
			if c.warning && has(good.Warnings, c.path, c.rule) {
				t.Errorf("accepted config still warns %s at %s", c.rule, c.path)
			}
		})
	}
}
