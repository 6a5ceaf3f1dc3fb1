package main

import (
	"testing"
	"time"
)

// The pure parts of the benchmark: timer parsing, percentiles and the
// silence computed from the echoes. The lab runs need root and keepalived
// and are not tests.
func TestParseTimers(t *testing.T) {
	got, err := parseTimers("200x3, 20x3")
	if err != nil || len(got) != 2 || got[0] != (timers{200, 3}) || got[1] != (timers{20, 3}) {
		t.Fatalf("parseTimers = %v, %v", got, err)
	}
	for _, bad := range []string{"", "200", "x3", "200x", "0x3", "200x3,abc"} {
		if _, err := parseTimers(bad); err == nil {
			t.Errorf("parseTimers(%q) accepted", bad)
		}
	}
	if d := (timers{20, 3}).dead(); d != 60*time.Millisecond {
		t.Errorf("dead = %s", d)
	}
	if s := advertInt(20); s != "0.02" {
		t.Errorf("advertInt(20) = %s", s)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 20; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 10}, {99, 20}, {100, 20}, {0, 1}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %d, want %d", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestMeasure(t *testing.T) {
	ms := time.Millisecond
	var es []echo
	seq := uint64(0)
	add := func(sent, recv time.Duration) {
		seq++
		es = append(es, echo{seq: seq, sent: sent, recv: recv})
	}
	// A 30 ms hiccup before the kill does not count; the 250 ms gap
	// after it does.
	add(0, 1*ms)
	add(1*ms, 31*ms)
	add(32*ms, 33*ms) // kill at 40 ms, ports down at 50 ms
	add(282*ms, 283*ms)
	add(283*ms, 284*ms)
	o := measure(es, 300, 40*ms, 50*ms)
	if !o.Recovered || o.Silence != 250*ms || o.FirstEcho != 243*ms || o.Lost != 295 {
		t.Errorf("measure = %+v", o)
	}
	if o := measure(es[:3], 10, 40*ms, 50*ms); o.Recovered {
		t.Errorf("recovered without an echo after the kill: %+v", o)
	}
}
