package ha

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/ha/wire"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// The lab's pair configuration gives each unit its designation, timers,
// monitored interfaces, and both heartbeat paths with its own and the
// peer's link addresses.
func TestFromConfig(t *testing.T) {
	d, err := model.Decode([]byte(topo.PairConfig))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		serial      string
		designation fsm.Designation
		local, peer string
	}{
		{"LAB-FW1", fsm.Primary, "169.254.10.1:8734", "169.254.10.2:8734"},
		{"LAB-FW2", fsm.Secondary, "169.254.10.2:8734", "169.254.10.1:8734"},
	} {
		s, err := fromConfig(d, tc.serial, "1.0")
		if err != nil {
			t.Fatalf("%s: %v", tc.serial, err)
		}
		m := s.machine
		if m.Designation != tc.designation || m.HeartbeatInterval != 100*time.Millisecond || m.TriggerLevel != 3 || m.Model != "lab" || m.Firmware != "1.0" {
			t.Errorf("%s: machine config %+v", tc.serial, m)
		}
		wantIfs := []fsm.Interface{{Name: "X0", Weight: 100, Physical: true}, {Name: "X1", Weight: 100, Physical: true}}
		if !reflect.DeepEqual(m.Interfaces, wantIfs) {
			t.Errorf("%s: monitored interfaces %+v, want %+v", tc.serial, m.Interfaces, wantIfs)
		}
		if len(s.paths) != 2 || s.paths[0].name != fsm.PathControl || s.paths[1].name != fsm.PathBackup ||
			s.paths[0].local != netip.MustParseAddrPort(tc.local) || s.paths[0].peer != netip.MustParseAddrPort(tc.peer) {
			t.Errorf("%s: paths %+v", tc.serial, s.paths)
		}
	}
}

// Without a pair to run the engine says why.
func TestFromConfigNotPaired(t *testing.T) {
	for name, edit := range map[string]func() []byte{
		"standalone":        func() []byte { return []byte(`{}`) },
		"unknown unit":      func() []byte { return []byte(topo.PairConfig) },
		"no pre-shared key": func() []byte { return []byte(topo.PairConfig) },
	} {
		d, err := model.Decode(edit())
		if err != nil {
			t.Fatal(err)
		}
		serial := "LAB-FW1"
		switch name {
		case "unknown unit":
			serial = "OTHER-1"
		case "no pre-shared key":
			if err := model.Delete(d, "/ha/config/pre-shared-key"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := fromConfig(d, serial, "1.0"); !errors.Is(err, errNotPaired) {
			t.Errorf("%s: err %v, want errNotPaired", name, err)
		}
	}
}

// An advertisement survives sealing, opening and translation, and an
// acknowledgement of our own epoch maps to our machine's boot time.
func TestTranslationRoundTrip(t *testing.T) {
	key, err := wire.NewKey([]byte("a pre-shared key"))
	if err != nil {
		t.Fatal(err)
	}
	ownEpoch, ownBoot := uint32(1700000000), time.Unix(1700000000, 123456789)
	adv := fsm.PeerState{
		Serial: "LAB-FW2", Designation: fsm.Secondary, Model: "lab", Firmware: "1.0",
		Role: fsm.RoleStandby, Quality: 63, Priority: 50, Forced: fsm.ForcedNone, ConfigRevision: 7,
		BulkSyncComplete: true, Yield: true, Seq: 42,
		Links: fsm.Links{"X0": {Up: true, ProbeOK: true}, "X1": {Up: false}},
	}
	m := &wire.Message{Serial: "LAB-FW2", Epoch: 1700000100, Seq: 42, Timestamp: 1,
		Payload: toWire(adv, map[string]bool{"X0": true})}
	m.Echo = wire.Echo{Present: true, Epoch: ownEpoch, Seq: 9}
	b, err := wire.Seal(key, m, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.Open(key, b)
	if err != nil {
		t.Fatal(err)
	}
	p := fromWire(got, ownEpoch, ownBoot)
	if p.Role != adv.Role || p.Quality != 63 || p.Priority != 50 || !p.Yield || !p.BulkSyncComplete ||
		p.Seq != 42 || p.ConfigRevision != 7 || !p.Links["X0"].Up || !p.Links["X0"].ProbeOK || p.Links["X1"].Up {
		t.Errorf("translated peer state %+v", p)
	}
	if p.Ack != 9 || !p.AckBoot.Equal(ownBoot) {
		t.Errorf("ack %d at %v, want 9 at our boot %v", p.Ack, p.AckBoot, ownBoot)
	}
	if !p.Boot.Equal(time.Unix(1700000100, 0)) {
		t.Errorf("peer boot %v", p.Boot)
	}
	if q := fromWire(got, ownEpoch+1, ownBoot); q.AckBoot.Equal(ownBoot) {
		t.Errorf("an ack of another epoch was mapped to our boot")
	}
}

// A slow event log never holds the pair: with OnEvent stuck, a unit alone
// still becomes active on time, and once OnEvent returns every event is
// delivered, in order, before Run returns.
// SPEC: DET-7, OBS-2
func TestSlowEventLogDoesNotHoldTakeover(t *testing.T) {
	d, err := model.Decode([]byte(topo.PairConfig))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var kinds []string
	active := make(chan struct{})
	e, err := New(Options{
		Serial: "LAB-FW1", Firmware: "1.0", DataDir: t.TempDir(),
		OnEvent: func(kind, _, _ string) {
			<-release
			kinds = append(kinds, kind)
		},
		OnRole: func(r fsm.Role, _ string) {
			if r == fsm.RoleActive {
				close(active)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.Configure(d)
	go e.Run(ctx)
	select {
	case <-active:
	case <-time.After(5 * time.Second):
		t.Fatal("no takeover while the event log was stuck")
	}
	close(release)
	cancel()
	<-e.done
	if len(kinds) == 0 || kinds[len(kinds)-1] != "role-change" {
		t.Errorf("events delivered %v, want them all, ending with the role change", kinds)
	}
}

// SPEC: MON-1
// The monitoring fields of an interface that drive the HA engine: the
// weight and physical monitoring of each port, and a logical probe per
// address family from the unit's own (primary or secondary) monitoring
// address to that family's probe address; a family without logical-probe
// is not probed, and a port with neither kind of monitoring is not counted.
func TestMonitoringFields(t *testing.T) {
	d, err := model.Decode([]byte(topo.PairConfig))
	if err != nil {
		t.Fatal(err)
	}
	for path, val := range map[string]string{
		"/interfaces/interface[name=X0]/config/ipv6-address":                      `["2001:db8::1/64"]`,
		"/monitoring/interfaces/interface[name=X0]/config/weight":                 `40`,
		"/monitoring/interfaces/interface[name=X0]/config/physical-monitoring":    `false`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/config/logical-probe":     `true`,
		"/monitoring/interfaces/interface[name=X0]/ipv4/config/probe-address":     `"192.0.2.254"`,
		"/monitoring/interfaces/interface[name=X0]/ipv6/config/primary-address":   `"2001:db8::2"`,
		"/monitoring/interfaces/interface[name=X0]/ipv6/config/secondary-address": `"2001:db8::3"`,
		"/monitoring/interfaces/interface[name=X0]/ipv6/config/logical-probe":     `true`,
		"/monitoring/interfaces/interface[name=X0]/ipv6/config/probe-address":     `"2001:db8::fe"`,
		"/monitoring/interfaces/interface[name=X1]/config/weight":                 `60`,
		"/monitoring/interfaces/interface[name=X1]/ipv4/config/probe-address":     `"198.51.100.254"`,
		"/monitoring/interfaces/interface[name=X3]/config/physical-monitoring":    `false`,
	} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatal(path, err)
		}
	}
	wantIfs := []fsm.Interface{{Name: "X0", Weight: 40, Probe: true}, {Name: "X1", Weight: 60, Physical: true}}
	for serial, own := range map[string][2]string{"LAB-FW1": {"192.0.2.2", "2001:db8::2"}, "LAB-FW2": {"192.0.2.3", "2001:db8::3"}} {
		s, err := fromConfig(d, serial, "1.0")
		if err != nil {
			t.Fatal(serial, err)
		}
		if !reflect.DeepEqual(s.machine.Interfaces, wantIfs) {
			t.Errorf("%s: monitored interfaces %+v, want %+v", serial, s.machine.Interfaces, wantIfs)
		}
		got := map[string]string{}
		for _, p := range s.probes {
			got[p.Source.String()] = p.Port + ">" + p.Destination.String()
		}
		want := map[string]string{own[0]: "X0>192.0.2.254", own[1]: "X0>2001:db8::fe"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: probes %v, want %v", serial, got, want)
		}
	}
}
