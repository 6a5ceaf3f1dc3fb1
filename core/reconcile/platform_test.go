package reconcile

import (
	"fmt"
	"net"
	"reflect"
	"testing"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// pairConfig is an active/standby lab pair: X0 LAN with monitoring
// addresses, X1 WAN, X2 HA control link, X3 disabled.
func pairConfig(t *testing.T) *tandem.Device {
	t.Helper()
	d := model.Default()
	for path, val := range map[string]string{
		"/ha/config/mode": `"active-standby"`,
		"/ha/devices/device[serial-number=UNIT-A]/config/designation":             `"primary"`,
		"/ha/devices/device[serial-number=UNIT-B]/config/designation":             `"secondary"`,
		"/ha/links/link[function=control]/config/port":                            `"X2"`,
		"/ha/links/link[function=control]/config/primary-address":                 `"169.254.10.1/30"`,
		"/ha/links/link[function=control]/config/secondary-address":               `"169.254.10.2/30"`,
		"/interfaces/interface[name=X0]/config/ipv4-address":                      `["192.0.2.1/24"]`,
		"/interfaces/interface[name=X0]/config/ipv6-address":                      `["2001:db8::1/64"]`,
		"/interfaces/interface[name=X1]/config/ipv4-address":                      `["198.51.100.1/24"]`,
		"/interfaces/interface[name=X3]/config/enabled":                           `false`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/config/primary-address":   `"192.0.2.2"`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/config/secondary-address": `"192.0.2.3"`,
		"/monitoring/interfaces/interface[name=X0]/ipv6/config/primary-address":   `"2001:db8::2"`,
		"/platform/ports/port[name=X1]/config/netdev":                             `"wan0"`,
	} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return d
}

func TestPlatformSpec(t *testing.T) {
	d := pairConfig(t)
	for _, tc := range []struct {
		name string
		role fsm.Role
		self string
		want []*sdk.Port
	}{{
		// SPEC: TKO-1
		name: "active primary owns the virtual addresses and its own monitoring address",
		role: fsm.RoleActive, self: "UNIT-A",
		want: []*sdk.Port{
			{Name: "X0", Netdev: "x0", AdminUp: true, Addresses: []string{"192.0.2.1/24", "192.0.2.2/24", "2001:db8::1/64", "2001:db8::2/64"}},
			{Name: "X1", Netdev: "wan0", AdminUp: true, Addresses: []string{"198.51.100.1/24"}},
			{Name: "X2", Netdev: "x2", AdminUp: true, Addresses: []string{"169.254.10.1/30"}},
			{Name: "X3", Netdev: "x3", AdminUp: false},
		},
	}, {
		// SPEC: MON-2
		name: "standby secondary keeps only its own monitoring and HA link addresses",
		role: fsm.RoleStandby, self: "UNIT-B",
		want: []*sdk.Port{
			{Name: "X0", Netdev: "x0", AdminUp: true, Addresses: []string{"192.0.2.3/24"}},
			{Name: "X1", Netdev: "wan0", AdminUp: true},
			{Name: "X2", Netdev: "x2", AdminUp: true, Addresses: []string{"169.254.10.2/30"}},
			{Name: "X3", Netdev: "x3", AdminUp: false},
		},
	}, {
		name: "initializing unit never claims virtual addresses",
		role: fsm.RoleInitializing, self: "UNIT-A",
		want: []*sdk.Port{
			{Name: "X0", Netdev: "x0", AdminUp: true, Addresses: []string{"192.0.2.2/24", "2001:db8::2/64"}},
			{Name: "X1", Netdev: "wan0", AdminUp: true},
			{Name: "X2", Netdev: "x2", AdminUp: true, Addresses: []string{"169.254.10.1/30"}},
			{Name: "X3", Netdev: "x3", AdminUp: false},
		},
	}, {
		name: "unknown serial is treated as primary",
		role: fsm.RoleStandalone, self: "OTHER",
		want: []*sdk.Port{
			{Name: "X0", Netdev: "x0", AdminUp: true, Addresses: []string{"192.0.2.1/24", "192.0.2.2/24", "2001:db8::1/64", "2001:db8::2/64"}},
			{Name: "X1", Netdev: "wan0", AdminUp: true, Addresses: []string{"198.51.100.1/24"}},
			{Name: "X2", Netdev: "x2", AdminUp: true, Addresses: []string{"169.254.10.1/30"}},
			{Name: "X3", Netdev: "x3", AdminUp: false},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := configuredPorts(PlatformSpec(d, tc.role, Identity{SerialNumber: tc.self}))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d ports %v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.Name != w.Name || g.Netdev != w.Netdev || g.AdminUp != w.AdminUp || !reflect.DeepEqual(nonNil(g.Addresses), nonNil(w.Addresses)) {
					t.Errorf("port %d:\n got %v\nwant %v", i, g, w)
				}
			}
		})
	}
}

func TestPlatformSpecIsDeterministic(t *testing.T) {
	d := pairConfig(t)
	a := PlatformSpec(d, fsm.RoleActive, Identity{SerialNumber: "UNIT-A"})
	for i := 0; i < 20; i++ {
		b := PlatformSpec(d, fsm.RoleActive, Identity{SerialNumber: "UNIT-A"})
		if a.String() != b.String() {
			t.Fatalf("spec differs between runs:\n%v\n%v", a, b)
		}
	}
}

// configuredPorts drops the unconfigured ports of the port map.
func configuredPorts(spec *sdk.PlatformSpec) []*sdk.Port {
	var out []*sdk.Port
	for _, p := range spec.GetPorts() {
		if !p.GetUnconfigured() {
			out = append(out, p)
		}
	}
	return out
}

// Every port of the model's port map the configuration does not use is in
// the intent as unconfigured, so that its addresses are removed when it
// leaves the configuration.
func TestPlatformSpecCoversThePortMap(t *testing.T) {
	d := pairConfig(t)
	spec := PlatformSpec(d, fsm.RoleActive, Identity{SerialNumber: "UNIT-A"})
	byName := map[string]*sdk.Port{}
	for _, p := range spec.GetPorts() {
		byName[p.GetName()] = p
	}
	for i := 0; i < 10; i++ { // the lab model has X0..X9
		name := fmt.Sprintf("X%d", i)
		p, ok := byName[name]
		if !ok {
			t.Fatalf("port %s of the lab port map is missing from the intent", name)
		}
		configured := i <= 3
		if p.GetUnconfigured() == configured {
			t.Errorf("port %s unconfigured=%v, want %v", name, p.GetUnconfigured(), !configured)
		}
		if p.GetUnconfigured() && (len(p.GetAddresses()) > 0 || p.GetNetdev() != fmt.Sprintf("x%d", i)) {
			t.Errorf("unconfigured port %s = %v", name, p)
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SPEC: SEC-3
// SPEC: MON-3
// The firewall spec admits only the peer's address on a dedicated HA link,
// leaves a link over a data port (backup heartbeat on X0) unfiltered, and
// guards each of this unit's monitoring addresses, with management ports
// only where allowed.
func TestFirewallSpec(t *testing.T) {
	d := pairConfig(t)
	for path, val := range map[string]string{
		"/ha/links/link[function=backup-control]/config/port":                    `"X0"`,
		"/ha/links/link[function=backup-control]/config/primary-address":         `"192.0.2.250/24"`,
		"/ha/links/link[function=backup-control]/config/secondary-address":       `"192.0.2.251/24"`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/config/allow-management": `true`,
	} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatal(path, err)
		}
	}
	for _, tc := range []struct {
		self      string
		peer      string
		v4, v6    string
		v6Present bool
	}{
		{self: "UNIT-A", peer: "169.254.10.2", v4: "192.0.2.2", v6: "2001:db8::2", v6Present: true},
		{self: "UNIT-B", peer: "169.254.10.1", v4: "192.0.2.3"},
	} {
		fw := PlatformSpec(d, fsm.RoleStandby, Identity{SerialNumber: tc.self}).GetFirewall()
		if len(fw.GetHaLinks()) != 1 || fw.HaLinks[0].GetNetdev() != "x2" ||
			!reflect.DeepEqual(fw.HaLinks[0].GetPeerAddresses(), []string{tc.peer}) {
			t.Errorf("%s: HA link filters = %v, want only x2 admitting %s", tc.self, fw.GetHaLinks(), tc.peer)
		}
		want := map[string]bool{tc.v4: true}
		if tc.v6Present {
			want[tc.v6] = false
		}
		if len(fw.GetMonitoring()) != len(want) {
			t.Fatalf("%s: monitoring filters = %v, want %v", tc.self, fw.GetMonitoring(), want)
		}
		for _, m := range fw.GetMonitoring() {
			allow, ok := want[m.GetAddress()]
			if !ok || m.GetAllowManagement() != allow || (len(m.GetManagementTcpPorts()) > 0) != allow {
				t.Errorf("%s: monitoring filter %v, want allow-management %v", tc.self, m, allow)
			}
		}
	}
}

// SPEC: TKO-3
// The periodic gratuitous ARP interval reaches the platform driver.
func TestGratuitousARPInterval(t *testing.T) {
	d := pairConfig(t)
	if got := PlatformSpec(d, fsm.RoleActive, Identity{SerialNumber: "UNIT-A"}).GetGarpIntervalSeconds(); got != 0 {
		t.Errorf("default interval %d, want 0 (off)", got)
	}
	if err := model.Set(d, "/ha/config/gratuitous-arp-interval", []byte("30")); err != nil {
		t.Fatal(err)
	}
	if got := PlatformSpec(d, fsm.RoleActive, Identity{SerialNumber: "UNIT-A"}).GetGarpIntervalSeconds(); got != 30 {
		t.Errorf("interval %d, want 30", got)
	}
}

// SPEC: TKO-4
// The bounce option reaches the driver, and the HA link port is marked so
// that it is never bounced.
func TestBounceOption(t *testing.T) {
	d := pairConfig(t)
	if err := model.Set(d, "/ha/config/bounce-interfaces", []byte("true")); err != nil {
		t.Fatal(err)
	}
	spec := PlatformSpec(d, fsm.RoleActive, Identity{SerialNumber: "UNIT-A"})
	if !spec.GetBounceOnTakeover() {
		t.Error("bounce-interfaces not carried to the intent")
	}
	for _, p := range spec.GetPorts() {
		if want := p.GetName() == "X2"; p.GetHaLink() != want {
			t.Errorf("port %s ha_link=%v, want %v", p.GetName(), p.GetHaLink(), want)
		}
	}
}

// SPEC: TKO-2
// With virtual MAC on, the active carries the virtual addresses with a
// generated MAC that is the same for both units, stable, unicast and
// locally administered, or the configured override; the standby carries
// none; with the option off the addresses sit on the port.
func TestVirtualMAC(t *testing.T) {
	d := pairConfig(t)
	if err := model.Set(d, "/ha/config/virtual-mac", []byte("true")); err != nil {
		t.Fatal(err)
	}
	ports := func(role fsm.Role, serial string) map[string]*sdk.Port {
		out := map[string]*sdk.Port{}
		for _, p := range PlatformSpec(d, role, Identity{SerialNumber: serial}).GetPorts() {
			out[p.GetName()] = p
		}
		return out
	}
	a, b := ports(fsm.RoleActive, "UNIT-A"), ports(fsm.RoleActive, "UNIT-B")
	x1 := a["X1"]
	mac, err := net.ParseMAC(x1.GetVirtualMac())
	if err != nil || mac[0]&0x02 == 0 || mac[0]&0x01 != 0 {
		t.Fatalf("virtual MAC %q: want a unicast, locally administered MAC (%v)", x1.GetVirtualMac(), err)
	}
	if b["X1"].GetVirtualMac() != x1.GetVirtualMac() {
		t.Errorf("the units generate different virtual MACs: %s and %s", x1.GetVirtualMac(), b["X1"].GetVirtualMac())
	}
	if a["X0"].GetVirtualMac() == x1.GetVirtualMac() {
		t.Errorf("two ports share the virtual MAC %s", x1.GetVirtualMac())
	}
	if !reflect.DeepEqual(x1.GetVirtualAddresses(), []string{"198.51.100.1/24"}) || len(x1.GetAddresses()) != 0 {
		t.Errorf("X1 addresses %v, virtual %v", x1.GetAddresses(), x1.GetVirtualAddresses())
	}
	if !reflect.DeepEqual(a["X0"].GetAddresses(), []string{"192.0.2.2/24", "2001:db8::2/64"}) {
		t.Errorf("X0 keeps its monitoring addresses on the port: %v", a["X0"].GetAddresses())
	}
	if s := ports(fsm.RoleStandby, "UNIT-B")["X1"]; s.GetVirtualMac() != "" || len(s.GetVirtualAddresses()) > 0 {
		t.Errorf("the standby carries a virtual MAC: %v", s)
	}
	if err := model.Set(d, "/monitoring/interfaces/interface[name=X1]/config/virtual-mac-address", []byte(`"02:00:5E:10:00:01"`)); err != nil {
		t.Fatal(err)
	}
	if got := ports(fsm.RoleActive, "UNIT-A")["X1"].GetVirtualMac(); got != "02:00:5e:10:00:01" {
		t.Errorf("override: virtual MAC %s", got)
	}
}

// SPEC: MON-1
// Every per-interface monitoring field reaches the driver, for IPv4 and
// IPv6 alike: each unit puts its own (primary or secondary) monitoring
// address on the port, within the interface's subnet; allow-management
// opens the management ports on that address only; the virtual MAC
// override replaces the generated MAC of that port. (Probe addresses and
// physical monitoring feed the HA engine: core/ha TestMonitoringFields.)
func TestMonitoringInterfaceFields(t *testing.T) {
	d := pairConfig(t)
	for path, val := range map[string]string{
		"/ha/config/virtual-mac": `true`,
		"/monitoring/interfaces/interface[name=X0]/config/virtual-mac-address":    `"02:00:5e:10:00:07"`,
		"/monitoring/interfaces/interface[name=X0]/config/physical-monitoring":    `true`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/config/allow-management":  `true`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/config/probe-address":     `"192.0.2.254"`,
		"/monitoring/interfaces/interface[name=X0]/ipv6/config/secondary-address": `"2001:db8::3"`,
		"/monitoring/interfaces/interface[name=X0]/ipv6/config/allow-management":  `false`,
		"/monitoring/interfaces/interface[name=X0]/ipv6/config/probe-address":     `"2001:db8::fe"`,
	} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatal(path, err)
		}
	}
	for _, tc := range []struct {
		self   string
		v4, v6 string
	}{{"UNIT-A", "192.0.2.2", "2001:db8::2"}, {"UNIT-B", "192.0.2.3", "2001:db8::3"}} {
		for _, role := range []fsm.Role{fsm.RoleActive, fsm.RoleStandby} {
			spec := PlatformSpec(d, role, Identity{SerialNumber: tc.self})
			var x0 *sdk.Port
			for _, p := range spec.GetPorts() {
				if p.GetName() == "X0" {
					x0 = p
				}
			}
			want := []string{tc.v4 + "/24", tc.v6 + "/64"}
			if x0 == nil || !reflect.DeepEqual(x0.GetAddresses(), want) {
				t.Errorf("%s %s: X0 port %v, want own monitoring addresses %v", tc.self, role, x0, want)
				continue
			}
			if role == fsm.RoleActive && (x0.GetVirtualMac() != "02:00:5e:10:00:07" ||
				!reflect.DeepEqual(x0.GetVirtualAddresses(), []string{"192.0.2.1/24", "2001:db8::1/64"})) {
				t.Errorf("%s active: X0 virtual MAC %q with %v, want the override with the virtual addresses",
					tc.self, x0.GetVirtualMac(), x0.GetVirtualAddresses())
			}
			allowed := map[string]bool{}
			for _, m := range spec.GetFirewall().GetMonitoring() {
				allowed[m.GetAddress()] = m.GetAllowManagement()
			}
			if want := map[string]bool{tc.v4: true, tc.v6: false}; !reflect.DeepEqual(allowed, want) {
				t.Errorf("%s %s: management on monitoring addresses %v, want %v", tc.self, role, allowed, want)
			}
		}
	}
}

// SPEC: TKO-6
// With aggregates-up-on-passive at its default, link aggregates are up on
// every role; with it false, a unit of the pair that is not active holds
// them down while the active and a standalone unit keep them up. Other
// interfaces are unaffected, an HA link port is never held down and a
// disabled interface stays down.
func TestAggregatesOnPassive(t *testing.T) {
	// X1 is an aggregate, X2 (the HA control link) and X3 (disabled) are
	// marked as aggregates too.
	config := func(t *testing.T, settings map[string]string) *tandem.Device {
		d := pairConfig(t)
		for _, port := range []string{"X1", "X2", "X3"} {
			settings["/interfaces/interface[name="+port+"]/config/link-aggregate"] = "true"
		}
		for path, val := range settings {
			if err := model.Set(d, path, []byte(val)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return d
	}
	const off = "/ha/config/aggregates-up-on-passive"
	up := map[string]bool{"X0": true, "X1": true, "X2": true, "X3": false}
	held := map[string]bool{"X0": true, "X1": false, "X2": true, "X3": false}
	for _, tc := range []struct {
		name     string
		settings map[string]string
		role     fsm.Role
		want     map[string]bool
	}{
		{"option default, active", map[string]string{}, fsm.RoleActive, up},
		{"option default, standby", map[string]string{}, fsm.RoleStandby, up},
		{"option true, standby", map[string]string{off: "true"}, fsm.RoleStandby, up},
		{"option false, active", map[string]string{off: "false"}, fsm.RoleActive, up},
		{"option false, standby", map[string]string{off: "false"}, fsm.RoleStandby, held},
		{"option false, initializing", map[string]string{off: "false"}, fsm.RoleInitializing, held},
		{"option false, faulted", map[string]string{off: "false"}, fsm.RoleFaulted, held},
		{"option false, standalone", map[string]string{off: "false", "/ha/config/mode": `"standalone"`}, fsm.RoleStandalone, up},
		{"option false, cluster mode", map[string]string{off: "false", "/ha/config/mode": `"active-active-cluster"`}, fsm.RoleInitializing, up},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := config(t, tc.settings)
			for _, p := range configuredPorts(PlatformSpec(d, tc.role, Identity{SerialNumber: "UNIT-B"})) {
				if want := tc.want[p.GetName()]; p.GetAdminUp() != want {
					t.Errorf("port %s admin up = %t, want %t", p.GetName(), p.GetAdminUp(), want)
				}
			}
		})
	}
}
