package ha

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// heldSetup is the lab pair's setup for LAB-FW2 with the WAN port X1 a
// link aggregate and aggregates-up-on-passive set to upOnPassive.
func heldSetup(t *testing.T, upOnPassive string) setup {
	t.Helper()
	d, err := model.Decode([]byte(topo.PairConfig))
	if err != nil {
		t.Fatal(err)
	}
	for path, val := range map[string]string{
		"/interfaces/interface[name=X1]/config/link-aggregate": "true",
		"/ha/config/aggregates-up-on-passive":                  upOnPassive,
	} {
		if err := model.Set(d, path, []byte(val)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	s, err := fromConfig(d, "LAB-FW2", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SPEC: TKO-6
// With aggregates-up-on-passive false the passive unit's quality factor
// stays whole while its aggregate X1 is down (held down on purpose), and
// the port is advertised up; with the option on, or once the unit is
// active, a down aggregate lowers the quality like any monitored link.
func TestQualityWithHeldAggregate(t *testing.T) {
	local := map[string]bool{"X0": true, "X1": false}
	for _, tc := range []struct {
		name        string
		upOnPassive string
		holding     bool
		want        int
	}{
		{"option off, passive", "false", true, 100},
		{"option off, active after the settle time", "false", false, 50},
		{"option on, passive", "true", true, 50},
		{"option on, active", "true", false, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := heldSetup(t, tc.upOnPassive)
			links := linkInputs(s, local, nil, tc.holding, nil)
			if q := fsm.Quality(s.machine.Interfaces, links); q != tc.want {
				t.Errorf("quality %d%%, want %d%% (links %v)", q, tc.want, links)
			}
			if up := tc.want == 100; links["X1"].Up != up {
				t.Errorf("X1 advertised up=%t, want %t", links["X1"].Up, up)
			}
		})
	}
	if s := heldSetup(t, "false"); !reflect.DeepEqual(s.held, map[string]bool{"X1": true}) || s.settle != aggregateSettle {
		t.Errorf("held %v settle %v, want X1 and %v", s.held, s.settle, aggregateSettle)
	}
	if s := heldSetup(t, "true"); s.held != nil || s.settle != 0 {
		t.Errorf("option on: held %v settle %v, want none", s.held, s.settle)
	}
}

// SPEC: TKO-6
// After a takeover the held aggregate counts as up for the settle time
// (LACP negotiates), then as observed. A unit that stops being active
// after its settle time remembers a failed aggregate and counts it down
// while passive, so that two units with dead aggregates do not hand the
// role back and forth; one that steps down within the settle time
// remembers nothing.
func TestHeldAggregateAcrossRoles(t *testing.T) {
	s := heldSetup(t, "false")
	e := &Engine{setup: s, local: map[string]bool{"X0": true, "X1": false}, probeOK: map[string]bool{}}
	quality := func(holding bool) int {
		return fsm.Quality(s.machine.Interfaces, linkInputs(s, e.local, e.probeOK, holding, e.remembered))
	}
	t0 := time.Unix(1_800_000_000, 0)
	e.roleChanged(fsm.RoleStandby, fsm.RoleActive, t0)
	if !e.relink || !e.settleUntil.Equal(t0.Add(aggregateSettle)) {
		t.Fatalf("takeover: relink %t, settle until %v", e.relink, e.settleUntil)
	}
	e.roleChanged(fsm.RoleActive, fsm.RoleStandby, t0.Add(time.Second))
	if e.remembered != nil || quality(true) != 100 {
		t.Fatalf("stepped down within the settle time: remembered %v, quality %d%%", e.remembered, quality(true))
	}
	t1 := t0.Add(time.Minute)
	e.roleChanged(fsm.RoleStandby, fsm.RoleActive, t1)
	e.relink = false
	e.endSettle(t1.Add(aggregateSettle - time.Millisecond))
	if e.relink || e.settleUntil.IsZero() {
		t.Fatal("the settle time ended early")
	}
	e.endSettle(t1.Add(aggregateSettle))
	if !e.relink || !e.settleUntil.IsZero() {
		t.Fatal("the settle time did not end")
	}
	e.roleChanged(fsm.RoleActive, fsm.RoleStandby, t1.Add(time.Minute))
	if got := quality(true); got != 50 {
		t.Errorf("passive after seeing its aggregate fail: quality %d%%, want 50%%", got)
	}
}

// SPEC: TKO-6
// The engine feeds the machine through linkInputs: a lone unit with its
// aggregate X1 down reports full quality while it holds the aggregate and
// during the settle time after it became active, and half with the option
// on.
func TestEngineCountsHeldAggregate(t *testing.T) {
	for _, tc := range []struct {
		upOnPassive string
		want        int
	}{{"false", 100}, {"true", 50}} {
		d, err := model.Decode([]byte(topo.PairConfig))
		if err != nil {
			t.Fatal(err)
		}
		for path, val := range map[string]string{
			"/interfaces/interface[name=X1]/config/link-aggregate": "true",
			"/ha/config/aggregates-up-on-passive":                  tc.upOnPassive,
		} {
			if err := model.Set(d, path, []byte(val)); err != nil {
				t.Fatal(err)
			}
		}
		active := make(chan struct{})
		e, err := New(Options{Serial: "LAB-FW1", Firmware: "1.0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
			OnRole: func(r fsm.Role, _ string) {
				if r == fsm.RoleActive {
					close(active)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		e.LinkStates(map[string]bool{"X0": true, "X1": false})
		e.Configure(d)
		ctx, cancel := context.WithCancel(context.Background())
		go e.Run(ctx)
		select {
		case <-active:
		case <-time.After(5 * time.Second):
			t.Fatal("the lone unit did not become active")
		}
		q := e.Status(ctx).Self.Quality
		cancel()
		<-e.done
		if q != tc.want {
			t.Errorf("aggregates-up-on-passive %s: quality %d%%, want %d%%", tc.upOnPassive, q, tc.want)
		}
	}
}
