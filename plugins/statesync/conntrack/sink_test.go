package conntrack

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// standby is a namespace with a Sink on it.
func standby(t *testing.T) (*netnstest.NS, *Sink) {
	t.Helper()
	ns := netnstest.New(t, nsPrefix, "sb")
	ns.Run(t, "ip", "addr", "add", "10.9.9.9/24", "dev", "lo")
	local, err := NewLocalAddrs(t.Context(), ns.FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := NewSink(SinkConfig{NetNS: ns.FD, IsLocal: local.Contains})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return ns, sink
}

// conntrackList is the conntrack tool's listing of the namespace's table.
func conntrackList(t *testing.T, ns *netnstest.NS) string {
	t.Helper()
	var out []byte
	for _, fam := range []string{"ipv4", "ipv6"} {
		b, err := ns.Command("conntrack", "-L", "-f", fam, "-o", "extended").Output()
		if err != nil {
			t.Fatalf("conntrack -L: %v", err)
		}
		out = append(out, b...)
	}
	return string(out)
}

// TestSinkInstallsEveryProtocolSYNC1 installs one entry of each synced
// protocol (NAT'd, zoned and marked ones included) and checks them with
// the conntrack tool.
func TestSinkInstallsEveryProtocolSYNC1(t *testing.T) {
	needRoot(t)
	ns, sink := standby(t)
	cases := codecCases()
	delete(cases, "dccp") // not tracked by kernels since 6.16
	var recs []channel.Record
	keys := map[string]bool{}
	for _, f := range cases {
		f.Labels = nil // needs a ruleset that uses ct labels
		r := UpsertRecord(&f)
		if keys[string(r.Key)] {
			t.Fatalf("two cases share the key of %s", &f)
		}
		keys[string(r.Key)] = true
		recs = append(recs, r)
	}
	if err := sink.Apply(t.Context(), recs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	list := conntrackList(t, ns)
	want := []string{
		"tcp      6 43", // timeout carried + margin
		"src=192.0.2.10 dst=198.51.100.20 sport=40001 dport=443 src=198.51.100.20 dst=203.0.113.1 sport=443 dport=61000 [ASSURED]",
		"src=192.0.2.10 dst=203.0.113.1 sport=40000 dport=80 src=198.51.100.20 dst=192.0.2.10 sport=8080 dport=40000",
		"src=2001:db8::10 dst=2001:db8:1::20 sport=1 dport=65535", "mark=3735928559 zone=7",
		"udp      17", "icmp     1", "type=8 code=0 id=4660", "src=198.51.100.20 dst=203.0.113.1 type=0 code=0 id=17185",
		"icmpv6   58", "gre      47", "unknown  50", "sctp     132", "udplite  136", "helper=ftp",
	}
	for _, w := range want {
		if !strings.Contains(list, w) {
			t.Errorf("table lacks %q:\n%s", w, list)
		}
	}
	if n := strings.Count(list, "\n"); n != len(recs) {
		t.Errorf("table has %d entries, want %d:\n%s", n, len(recs), list)
	}
	if sink.Count() != len(recs) {
		t.Errorf("Count = %d, want %d", sink.Count(), len(recs))
	}
}

// TestSinkCreateOrUpdateSYNC1: an upsert of an existing entry updates it
// (also from a sink that did not create it), a delete of a missing entry
// is no error.
func TestSinkCreateOrUpdateSYNC1(t *testing.T) {
	needRoot(t)
	ns, sink := standby(t)
	ctx := t.Context()
	f := tcpFlow(v4a, v4b, 1000, 22)
	f.TCP.State = TCPSynRecv
	f.Status = StatusConfirmed | StatusSeenReply
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&f)}); err != nil {
		t.Fatal(err)
	}
	f.TCP.State, f.Status, f.Mark = TCPEstablished, established, 42
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&f)}); err != nil {
		t.Fatalf("update: %v", err)
	}
	list := conntrackList(t, ns)
	if !strings.Contains(list, "ESTABLISHED") || !strings.Contains(list, "mark=42") || !strings.Contains(list, "[ASSURED]") {
		t.Fatalf("update not applied:\n%s", list)
	}
	// A fresh sink (a restarted plugin) knows nothing: create, EEXIST, update.
	local := func(netip.Addr) bool { return false }
	other, err := NewSink(SinkConfig{NetNS: ns.FD, IsLocal: local})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	f.Mark = 43
	if err := other.Apply(ctx, []channel.Record{UpsertRecord(&f)}); err != nil {
		t.Fatalf("upsert of an entry the sink did not create: %v", err)
	}
	if list := conntrackList(t, ns); !strings.Contains(list, "mark=43") {
		t.Fatalf("update through a fresh sink not applied:\n%s", list)
	}
	if st := other.Stats(); st.Updated != 1 || st.Created != 0 {
		t.Errorf("fresh sink stats %+v, want one update", st)
	}
	// Upsert then delete in one batch: the delete wins.
	g := tcpFlow(v4a, v4b, 1001, 22)
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&g), DeleteRecord(&f), DeleteRecord(&g)}); err != nil {
		t.Fatal(err)
	}
	if list := conntrackList(t, ns); list != "" {
		t.Fatalf("entries left after delete:\n%s", list)
	}
	if err := sink.Apply(ctx, []channel.Record{DeleteRecord(&f)}); err != nil {
		t.Fatalf("delete of a missing entry: %v", err)
	}
	if sink.Count() != 0 {
		t.Errorf("Count = %d after deletes", sink.Count())
	}
	// A helper the standby's kernel lacks does not cost the session.
	h := tcpFlow(v4a, v4b, 1002, 21)
	h.Helper = "nosuchhelper"
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&h)}); err != nil {
		t.Fatalf("unknown helper: %v", err)
	}
	if sink.Stats().HelperDropped != 1 || !strings.Contains(conntrackList(t, ns), "sport=1002") {
		t.Errorf("entry with an unknown helper not installed without it: %+v", sink.Stats())
	}
	// Malformed records are reported by index and do not stop the rest.
	k := tcpFlow(v4a, v4b, 1003, 22)
	bad := channel.Record{Op: channel.Upsert, Key: []byte{1, 2, 3}, Value: []byte{1}}
	err = sink.Apply(ctx, []channel.Record{bad, UpsertRecord(&k)})
	if !errors.Is(err, ErrCodec) || !strings.Contains(err.Error(), "record 0") {
		t.Errorf("malformed record error = %v", err)
	}
	if !strings.Contains(conntrackList(t, ns), "sport=1003") {
		t.Error("the good record after a malformed one was not applied")
	}
}

// TestSinkReplaceSYNC1: Replace leaves exactly the snapshot, except the
// standby's own connections.
func TestSinkReplaceSYNC1(t *testing.T) {
	needRoot(t)
	ns, sink := standby(t)
	ctx := t.Context()
	keep, stale, fresh := tcpFlow(v4a, v4b, 2000, 443), tcpFlow(v4a, v4b, 2001, 443), tcpFlow(v4a, v4b, 2002, 443)
	if err := sink.Apply(ctx, []channel.Record{UpsertRecord(&keep), UpsertRecord(&stale)}); err != nil {
		t.Fatal(err)
	}
	// the standby's own (management) connection
	ns.Run(t, "conntrack", "-I", "-p", "tcp", "-s", "10.9.9.9", "-d", "192.0.2.99", "--sport", "40000", "--dport", "22",
		"--state", "ESTABLISHED", "-t", "300", "-u", "SEEN_REPLY,ASSURED")
	keep.Mark = 7
	if err := sink.Replace(ctx, []channel.Record{UpsertRecord(&keep), UpsertRecord(&fresh)}); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	list := conntrackList(t, ns)
	for _, w := range []string{"sport=2000", "mark=7", "sport=2002", "src=10.9.9.9"} {
		if !strings.Contains(list, w) {
			t.Errorf("table lacks %q after Replace:\n%s", w, list)
		}
	}
	if strings.Contains(list, "sport=2001") {
		t.Errorf("stale entry survived Replace:\n%s", list)
	}
	if sink.Count() != 2 || sink.Stats().RemovedByReplace != 1 {
		t.Errorf("Count %d, stats %+v; want 2 entries, 1 removed", sink.Count(), sink.Stats())
	}
}
