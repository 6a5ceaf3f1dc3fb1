package reconcile

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
)

// SPEC SYNC-1, SYNC-3, SYNC-4, SYNC-5, SYNC-6: the sync plugin's intent
// follows stateful-sync, runs on the HA link, and carries the throttle,
// the filters and the unit's own addresses.
func TestStatesyncSpec(t *testing.T) {
	d := pairConfig(t)
	if spec := StatesyncSpec(d, Identity{SerialNumber: "UNIT-A"}); spec.GetEnabled() || spec.GetPeer() != "" {
		t.Fatalf("stateful-sync off: %v", spec)
	}
	for path, val := range map[string]string{
		"/ha/config/stateful-sync":                         `true`,
		"/ha/config/pre-shared-key":                        `"a-long-pair-key"`,
		"/statesync/config/throttle":                       `8000`,
		"/statesync/config/min-duration":                   `5`,
		"/statesync/config/category":                       `["connections","ipsec"]`,
		"/statesync/config/no-sync-mark":                   `256`,
		"/ha/links/link[function=control]/config/udp-port": `9000`,
	} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	a := StatesyncSpec(d, Identity{SerialNumber: "UNIT-A"})
	b := StatesyncSpec(d, Identity{SerialNumber: "UNIT-B"})
	if !a.GetEnabled() || a.GetLocal() != "169.254.10.1:9001" || a.GetPeer() != "169.254.10.2:9001" {
		t.Fatalf("primary endpoints on the control link (port+1): %v -> %v", a.GetLocal(), a.GetPeer())
	}
	if b.GetLocal() != a.GetPeer() || b.GetPeer() != a.GetLocal() {
		t.Fatalf("secondary endpoints %v -> %v mirror the primary's", b.GetLocal(), b.GetPeer())
	}
	if a.GetDhcpLeaseIntervalSeconds() != 300 || a.GetCertificateIntervalSeconds() != 3600 {
		t.Errorf("periodic channel intervals %d, %d; want the defaults 300, 3600 (SYNC-11)", a.GetDhcpLeaseIntervalSeconds(), a.GetCertificateIntervalSeconds())
	}
	if string(a.GetKey()) != "a-long-pair-key" || a.GetRateBytesPerSecond() != 1_000_000 || a.GetMinAgeSeconds() != 5 || a.GetNoSyncMark() != 256 {
		t.Fatalf("key/throttle/min-age/mark: %v", a)
	}
	if !slices.Equal(a.GetChannels(), []string{"connections", "ipsec"}) {
		t.Fatalf("channels %v", a.GetChannels())
	}
	for _, addr := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1", "198.51.100.1", "169.254.10.1", "169.254.10.2"} {
		if !slices.Contains(a.GetLocalAddresses(), addr) {
			t.Errorf("own address %s missing from %v (SYNC-3)", addr, a.GetLocalAddresses())
		}
	}
	// A data link takes the stream off the control link.
	for path, val := range map[string]string{
		"/ha/links/link[function=data]/config/port":              `"X3"`,
		"/ha/links/link[function=data]/config/primary-address":   `"169.254.11.1/30"`,
		"/ha/links/link[function=data]/config/secondary-address": `"169.254.11.2/30"`,
		"/statesync/config/category":                             `[]`,
	} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	a = StatesyncSpec(d, Identity{SerialNumber: "UNIT-A"})
	if a.GetLocal() != "169.254.11.1:8734" || a.GetPeer() != "169.254.11.2:8734" {
		t.Fatalf("data link endpoints %v -> %v", a.GetLocal(), a.GetPeer())
	}
	if !slices.Contains(a.GetChannels(), "connections") || len(a.GetChannels()) < 10 {
		t.Fatalf("an empty category list means all: %v", a.GetChannels())
	}
}

// SPEC SYNC-6: the exclusions reach the platform driver with the mark,
// only while stateful sync is on.
func TestSyncExclusionsInThePlatformSpec(t *testing.T) {
	d := pairConfig(t)
	for path, val := range map[string]string{
		"/statesync/exclusions/exclusion[name=backup]/config/protocol":         `"tcp"`,
		"/statesync/exclusions/exclusion[name=backup]/config/destination-port": `5106`,
		"/statesync/exclusions/exclusion[name=admin]/config/sync":              `true`,
		"/statesync/exclusions/exclusion[name=admin]/config/source-prefix":     `"192.0.2.0/28"`,
	} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if fw := PlatformSpec(d, fsm.RoleActive, Identity{SerialNumber: "UNIT-A"}).GetFirewall(); fw.GetNoSyncMark() != 0 || len(fw.GetSyncExclusions()) != 0 {
		t.Fatalf("stateful sync off: %v", fw)
	}
	if err := model.Set(d, "/ha/config/stateful-sync", []byte("true")); err != nil {
		t.Fatal(err)
	}
	fw := PlatformSpec(d, fsm.RoleStandby, Identity{SerialNumber: "UNIT-B"}).GetFirewall()
	ex := fw.GetSyncExclusions()
	if fw.GetNoSyncMark() != 16777216 || len(ex) != 2 {
		t.Fatalf("mark %d, exclusions %v", fw.GetNoSyncMark(), ex)
	}
	if ex[0].GetName() != "admin" || !ex[0].GetSync() || ex[0].GetSourcePrefix() != "192.0.2.0/28" || ex[0].GetProtocol() != "" {
		t.Errorf("admin: %v", ex[0])
	}
	if ex[1].GetName() != "backup" || ex[1].GetSync() || ex[1].GetProtocol() != "tcp" || ex[1].GetDestinationPort() != 5106 {
		t.Errorf("backup: %v", ex[1])
	}
}

// SPEC TKO-5: the sync plugin's intent carries the dynamic route
// hold-down: the YANG default of 45 s when it is not configured, and a
// configured 0 (remove at once) as 0.
//
// SPEC: TKO-5
func TestStatesyncSpecRouteHoldDown(t *testing.T) {
	d := pairConfig(t)
	for path, val := range map[string]string{"/ha/config/stateful-sync": `true`, "/ha/config/pre-shared-key": `"a-long-pair-key"`} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	d.GetHa().GetConfig().DynamicRouteHoldDown = nil
	if got := StatesyncSpec(d, Identity{SerialNumber: "UNIT-A"}).GetRouteHoldDownSeconds(); got != 45 {
		t.Fatalf("unset hold-down: %d s, want the YANG default 45", got)
	}
	for _, v := range []string{"0", "120", "3600"} {
		if err := model.Set(d, "/ha/config/dynamic-route-hold-down", []byte(v)); err != nil {
			t.Fatal(err)
		}
		if got := StatesyncSpec(d, Identity{SerialNumber: "UNIT-B"}).GetRouteHoldDownSeconds(); fmt.Sprint(got) != v {
			t.Errorf("hold-down %s: the intent carries %d", v, got)
		}
	}
}
