package probe

import (
	"net/netip"
	"testing"
)

// SPEC: DET-4
func TestTrackerLossThreshold(t *testing.T) {
	v4 := Target{Port: "X0", Source: netip.MustParseAddr("192.0.2.2"), Destination: netip.MustParseAddr("192.0.2.254")}
	v6 := Target{Port: "X0", Source: netip.MustParseAddr("2001:db8::2"), Destination: netip.MustParseAddr("2001:db8::fe")}
	x1 := Target{Port: "X1", Source: netip.MustParseAddr("198.51.100.2"), Destination: netip.MustParseAddr("198.51.100.1")}
	k := newTracker(3)
	step := func(targets []Target, answered ...Target) map[string]bool {
		a := map[Target]bool{}
		for _, t := range answered {
			a[t] = true
		}
		return k.update(targets, a)
	}
	both := []Target{v4, x1}
	if got := step(both, v4); !got["X0"] || got["X1"] {
		t.Fatalf("first round: %v, want X0 up (answered) and X1 down (never answered)", got)
	}
	for i := 1; i <= 2; i++ {
		if got := step(both); !got["X0"] {
			t.Fatalf("after %d losses of 3: X0 down already", i)
		}
	}
	if got := step(both); got["X0"] {
		t.Fatal("after 3 consecutive losses: X0 still up")
	}
	if got := step(both, v4, x1); !got["X0"] || !got["X1"] {
		t.Fatalf("answered again: %v", got)
	}
	// Two families on one port: one answering keeps the port reachable.
	fam := []Target{v4, v6}
	step(fam, v4, v6)
	for range 5 {
		if got := step(fam, v6); !got["X0"] {
			t.Fatal("X0 down while its IPv6 target answers")
		}
	}
	if got := step([]Target{v6}); len(got) != 1 {
		t.Fatalf("removed targets still reported: %v", got)
	}
}
