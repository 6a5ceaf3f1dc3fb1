// Package bench holds tandem's benchmarks (`make bench`). Results and how
// they were measured are reported in the README.
package bench

import (
	"fmt"
	"testing"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// clusterConfig builds a valid Active/Active cluster of 4 nodes (8 sm-9600
// units) with 4 virtual groups and n data interfaces, each interface
// carrying a virtual address of every group and monitored on every node:
// the largest configuration the product allows.
func clusterConfig(tb testing.TB, n int) *tandem.Device {
	tb.Helper()
	d := model.Default()
	set := func(path, val string) {
		if err := model.Set(d, path, []byte(val)); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
	}
	set("/platform/config/model", `"sm-9600"`)
	set("/ha/config/mode", `"active-active-cluster"`)
	set("/ha/config/pre-shared-key", `"correct horse battery staple"`)
	set("/ha/links/link[function=control]/config/port", `"X20"`)
	set("/ha/links/link[function=data]/config/port", `"X19"`)
	set("/ha/links/link[function=backup-control]/config/port", `"X0"`)
	set("/cluster/virtual-groups/virtual-group[id=1]/config/node-rank", `[1, 2, 3, 4]`)
	for i := 0; i < n; i++ {
		ifc := fmt.Sprintf("/interfaces/interface[name=X%d]/config/", i)
		zone := "dmz"
		switch i {
		case 0:
			zone = "lan"
		case 1:
			zone = "wan"
		}
		set(ifc+"zone", `"`+zone+`"`)
		set(ifc+"ipv4-address", fmt.Sprintf(`["10.%d.0.1/24"]`, i))
		set(ifc+"ipv6-address", fmt.Sprintf(`["2001:db8:%x::1/64"]`, i))
	}
	for node := 1; node <= 4; node++ {
		for _, des := range []string{"primary", "secondary"} {
			dev := fmt.Sprintf("/ha/devices/device[serial-number=SM96-N%d-%s]/config/", node, des[:1])
			set(dev+"designation", `"`+des+`"`)
			set(dev+"model", `"sm-9600"`)
			set(dev+"cluster-node", fmt.Sprint(node))
		}
		set(fmt.Sprintf("/cluster/nodes/node[id=%d]/config/stateful", node), `true`)
		for i := 0; i < n; i++ {
			mon := fmt.Sprintf("/cluster/nodes/node[id=%d]/monitoring/interfaces/interface[name=X%d]/", node, i)
			set(mon+"config/physical-monitoring", `true`)
			set(mon+"config/weight", fmt.Sprint(100+i))
			set(mon+"ipv4/config/primary-address", fmt.Sprintf(`"10.%d.0.1%d"`, i, node))
			set(mon+"ipv4/config/secondary-address", fmt.Sprintf(`"10.%d.0.2%d"`, i, node))
			set(mon+"ipv4/config/allow-management", `true`)
		}
		if node > 1 {
			vg := fmt.Sprintf("/cluster/virtual-groups/virtual-group[id=%d]/", node)
			set(vg+"config/node-rank", fmt.Sprintf("[%d]", node))
			for i := 0; i < n; i++ {
				set(vg+fmt.Sprintf("virtual-addresses/virtual-address[interface=X%d]/config/ipv4-address", i), fmt.Sprintf(`["10.%d.0.%d/24"]`, i, node))
			}
		}
	}
	return d
}
