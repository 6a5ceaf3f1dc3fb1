package route

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// nsPrefix starts the names of the namespaces this package's tests create.
const nsPrefix = "route"

// needRoot skips tests that need namespaces, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	netnstest.NeedRoot(t, "creates network namespaces and writes kernel routing tables", "ip")
}

// unit is a namespace with a data interface lan0 (its veth peer lanp
// stays in the namespace, up) and an HA link ha0 (peer hap), both up;
// v4 and v6 are lan0's addresses ("" for none).
func unit(t *testing.T, role, v4, v6 string) *netnstest.NS {
	t.Helper()
	n := netnstest.New(t, nsPrefix, role)
	for _, dev := range [][2]string{{"lan0", "lanp"}, {"ha0", "hap"}} {
		n.Run(t, "ip", "link", "add", dev[0], "type", "veth", "peer", "name", dev[1])
		n.Run(t, "ip", "link", "set", dev[1], "up")
		n.Run(t, "ip", "link", "set", dev[0], "up")
	}
	if v4 != "" {
		n.Run(t, "ip", "addr", "add", v4, "dev", "lan0")
	}
	if v6 != "" {
		n.Run(t, "ip", "-6", "addr", "add", v6, "dev", "lan0", "nodad")
	}
	n.Run(t, "ip", "addr", "add", "10.231.0.1/24", "dev", "ha0")
	return n
}

// waitFor polls cond every 20 ms until it holds or 5 s passed; then the
// test fails with what.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// seen reports whether rec holds a record of op for the route to dst.
func seen(t *testing.T, rec *netnstest.Recorder, op channel.Op, dst string) bool {
	t.Helper()
	_, ok := latest(t, rec.Records(), op)[netip.MustParsePrefix(dst)]
	return ok
}

// latest decodes the records of op by destination: the last of each.
func latest(t *testing.T, recs []channel.Record, op channel.Op) map[netip.Prefix]Route {
	t.Helper()
	out := map[netip.Prefix]Route{}
	for _, r := range recs {
		if r.Op != op {
			continue
		}
		var rt Route
		var err error
		if op == channel.Upsert {
			rt, err = Decode(r.Key, r.Value)
		} else {
			rt, err = DecodeKey(r.Key)
		}
		if err != nil {
			t.Fatalf("emitted record does not decode: %v", err)
		}
		out[rt.Dst] = rt
	}
	return out
}

// startWatch runs Watch and returns once it provably sees events: a probe
// OSPF route on lan0 (gateway 10.230.0.9) shows up, and its deletion too.
func startWatch(t *testing.T, ctx context.Context, src *Source, n *netnstest.NS) *netnstest.Recorder {
	t.Helper()
	rec := &netnstest.Recorder{}
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, rec.Emit, rec.Lost) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	const probe = "10.239.0.0/24"
	for deadline := time.Now().Add(5 * time.Second); !seen(t, rec, channel.Upsert, probe); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Watch never saw the probe route")
		}
		n.Run(t, "ip", "route", "replace", probe, "via", "10.230.0.9", "dev", "lan0", "proto", "ospf")
	}
	n.Run(t, "ip", "route", "del", probe, "proto", "ospf")
	waitFor(t, "the probe route's Delete", func() bool { return seen(t, rec, channel.Delete, probe) })
	return rec
}

// routes lists the IPv4 and IPv6 main-table routes of n, one per line,
// as ip(8) shows them (multipath nexthops joined to their route).
func routes(t *testing.T, n *netnstest.NS, args ...string) string {
	t.Helper()
	out := n.Run(t, append([]string{"ip", "-4", "-o", "route", "show"}, args...)...)
	out += n.Run(t, append([]string{"ip", "-6", "-o", "route", "show"}, args...)...)
	return strings.ReplaceAll(out, "\\\t", " ")
}

// line returns the line of list that starts with dst ("" if none).
func line(list, dst string) string {
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, dst+" ") {
			return l
		}
	}
	return ""
}
