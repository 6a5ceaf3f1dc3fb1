package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// routesOf lists a unit's IPv4 main-table routes to dst.
func routesOf(t *testing.T, ns, dst string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "route", "show", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("ip route show %s in %s: %v\n%s", dst, ns, err, out)
	}
	return strings.TrimSpace(string(out))
}

// SPEC: TKO-5
// SPEC: SYNC-2
// A route the active's routing daemon learned (proto ospf) reaches the
// standby's table through stateful sync, tagged as tandem's (proto 116);
// after kill -9 of the active the new active keeps it for the configured
// hold-down, then removes it, while a route its own daemon relearned
// meanwhile stays.
func TestDynamicRouteHoldDownAfterTakeover(t *testing.T) {
	l := startSyncPair(t, true)
	l.ctl("fw1", "config", "set", "/ha/config/dynamic-route-hold-down", "3")
	l.ctl("fw1", "config", "commit", "-m", "3 s route hold-down")
	l.fw2.eventually("the standby has the hold-down by config sync", 10*time.Second, func() bool {
		return strings.Contains(l.ctl("fw2", "config", "show"), `"dynamic-route-hold-down": 3`)
	})
	for _, dst := range []string{"10.99.0.0/16", "10.98.0.0/16"} {
		if out, err := exec.Command("ip", "-n", l.fw1.ns, "route", "add", dst, "via", "198.51.100.10", "dev", "x1", "proto", "ospf", "metric", "20").CombinedOutput(); err != nil {
			t.Fatalf("learned route on fw1: %v\n%s", err, out)
		}
	}
	l.fw2.eventually("the standby holds the learned routes, tagged as tandem's", 10*time.Second, func() bool {
		return strings.Contains(routesOf(t, l.fw2.ns, "10.99.0.0/16"), "proto 116") &&
			strings.Contains(routesOf(t, l.fw2.ns, "10.98.0.0/16"), "proto 116")
	})
	killed := killActiveDuring(t, l)
	// fw2's own daemon relearns 10.98.0.0/16 after the takeover.
	if out, err := exec.Command("ip", "-n", l.fw2.ns, "route", "add", "10.98.0.0/16", "via", "198.51.100.10", "dev", "x1", "proto", "ospf", "metric", "20").CombinedOutput(); err != nil {
		t.Fatalf("relearned route on fw2: %v\n%s", err, out)
	}
	if held := routesOf(t, l.fw2.ns, "10.99.0.0/16"); !strings.Contains(held, "proto 116") {
		t.Fatalf("the new active dropped the learned route at takeover: %q", held)
	}
	l.fw2.eventually("the hold-down ends and the route not relearned is removed", 15*time.Second, func() bool {
		return routesOf(t, l.fw2.ns, "10.99.0.0/16") == ""
	})
	if took := time.Since(killed); took < 3*time.Second {
		t.Errorf("the held route was removed %s after the kill, before the 3 s hold-down", took.Round(time.Millisecond))
	}
	if r := routesOf(t, l.fw2.ns, "10.98.0.0/16"); !strings.Contains(r, "proto ospf") || strings.Contains(r, "proto 116") {
		t.Errorf("after the hold-down 10.98.0.0/16 = %q, want only the relearned route", r)
	}
	if ev := l.ctl("fw2", "events", "-n", "50"); !strings.Contains(ev, "route-hold-down") {
		t.Errorf("no route hold-down event in the log:\n%s", ev)
	}
}
