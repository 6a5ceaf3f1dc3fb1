package conntrack

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// startWatch runs a Source's Watch in the background and returns once it
// provably sees events: a probe entry created with the conntrack tool
// shows up in its records.
func startWatch(t *testing.T, ctx context.Context, src *Source, fw *netnstest.NS) *netnstest.Recorder {
	t.Helper()
	rec := &netnstest.Recorder{}
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, rec.Emit, rec.Lost) }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	probe := []string{"-p", "udp", "-s", "192.0.2.250", "-d", "192.0.2.251", "--sport", "9", "--dport", "9"}
	for i := 0; ; i++ {
		fw.Try(append([]string{"conntrack", "-D"}, probe...)...)
		fw.Run(t, append(append([]string{"conntrack", "-I"}, probe...), "-t", "30", "-u", "SEEN_REPLY")...)
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) {
			ups, _ := flows(t, rec, ProtoUDP)
			for _, f := range ups {
				if f.Orig.Src.String() == "192.0.2.250" {
					fw.Run(t, append([]string{"conntrack", "-D"}, probe...)...)
					return rec
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		if i == 50 {
			t.Fatal("Watch never saw the probe entry")
		}
	}
}

// dialThrough opens a TCP connection client -> server across the topology
// and returns both ends.
func dialThrough(t *testing.T, tp *topology, port int) (cli, srv net.Conn) {
	t.Helper()
	var ln net.Listener
	var err error
	tp.srv.Do(t, func() { ln, err = net.Listen("tcp", fmt.Sprintf("%s:%d", serverAddr, port)) })
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	tp.cli.Do(t, func() { cli, err = net.DialTimeout("tcp", fmt.Sprintf("%s:%d", serverAddr, port), 5*time.Second) })
	if err != nil {
		t.Fatalf("dial through the firewall: %v", err)
	}
	select {
	case srv = <-accepted:
	case <-time.After(5 * time.Second):
	}
	if srv == nil {
		cli.Close()
		t.Fatal("server did not accept")
	}
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// transfer writes n random bytes on a and reads them on b within timeout.
func transfer(a, b net.Conn, n int, timeout time.Duration) error {
	data := make([]byte, n)
	rand.Read(data)
	werr := make(chan error, 1)
	a.SetWriteDeadline(time.Now().Add(timeout))
	go func() { _, err := a.Write(data); werr <- err }()
	b.SetReadDeadline(time.Now().Add(timeout))
	got := make([]byte, n)
	if _, err := io.ReadFull(b, got); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, data) {
		return errors.New("bytes differ")
	}
	return nil
}

// waitRecord waits until rec holds an upsert of protocol proto that
// satisfies ok.
func waitRecord(t *testing.T, rec *netnstest.Recorder, proto uint8, ok func(Flow) bool) Flow {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ups, _ := flows(t, rec, proto)
		for _, f := range ups {
			if ok(f) {
				return f
			}
		}
	}
	t.Fatalf("no record of protocol %d matched", proto)
	return Flow{}
}

// installer puts the active's records into firewall B before takeover;
// nil installs nothing.
type installer func(t *testing.T, ctx context.Context, fwB *netnstest.NS, recs []channel.Record)

// takeover opens a TCP connection through firewall A (stateful
// established-only forward policy, nf_conntrack_tcp_loose=0, SNAT to the
// shared address) and moves data both ways, lets install put the records
// A's Source emitted into B, switches the neighbours' routes to B, and
// reports whether data still flows each way.
func takeover(t *testing.T, install installer) (cli, srv net.Conn, errUp, errDown error) {
	ctx, cancel := context.WithCancel(context.Background())
	tp := newTopology(t, 2)
	fwA, fwB := tp.fws[0], tp.fws[1]
	localA, err := NewLocalAddrs(ctx, fwA.FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(SourceConfig{NetNS: fwA.FD, IsLocal: localA.Contains})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, fwA)
	t.Cleanup(cancel)

	cli, srv = dialThrough(t, tp, 7000)
	if got := srv.RemoteAddr().(*net.TCPAddr).IP.String(); got != vipAddr {
		t.Fatalf("server sees the client as %s, want the SNAT address %s", got, vipAddr)
	}
	for i := 0; i < 3; i++ {
		if err := transfer(cli, srv, 64<<10, 5*time.Second); err != nil {
			t.Fatalf("client->server through A: %v", err)
		}
		if err := transfer(srv, cli, 64<<10, 5*time.Second); err != nil {
			t.Fatalf("server->client through A: %v", err)
		}
	}
	cport := uint16(cli.LocalAddr().(*net.TCPAddr).Port)
	f := waitRecord(t, rec, ProtoTCP, func(f Flow) bool {
		return f.Orig.SrcPort == cport && f.TCP != nil && f.TCP.State == TCPEstablished && f.Status&StatusAssured != 0
	})
	if !f.SrcNAT() || f.Reply.Dst.String() != vipAddr {
		t.Fatalf("record does not carry the SNAT: %s reply %s", &f, f.Reply)
	}
	if install != nil {
		install(t, ctx, fwB, rec.Records())
		out := fwB.Run(t, "conntrack", "-L", "-p", "tcp", "--orig-port-src", fmt.Sprint(cport))
		if !strings.Contains(out, "ESTABLISHED") || !strings.Contains(out, "dst="+vipAddr) || !strings.Contains(out, "[ASSURED]") {
			t.Fatalf("fwB's entry is not an assured, established, SNAT'd one:\n%s", out)
		}
	}
	tp.routeVia(t, 2, true) // takeover: A is gone as far as the neighbours know
	errUp = transfer(cli, srv, 64<<10, 2*time.Second)
	errDown = transfer(srv, cli, 64<<10, 2*time.Second)
	return cli, srv, errUp, errDown
}

// TestFailoverProofSYNC1 is the proof of the channel: the connection keeps
// working through firewall B, SNAT intact, when its records went Source
// (A) -> codec -> Sink (B) before the takeover; without them the same
// takeover breaks it.
func TestFailoverProofSYNC1(t *testing.T) {
	needRoot(t)
	t.Run("synced", func(t *testing.T) {
		cli, srv, errUp, errDown := takeover(t, func(t *testing.T, ctx context.Context, fwB *netnstest.NS, recs []channel.Record) {
			localB, err := NewLocalAddrs(ctx, fwB.FD, nil)
			if err != nil {
				t.Fatal(err)
			}
			sink, err := NewSink(SinkConfig{NetNS: fwB.FD, IsLocal: localB.Contains})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sink.Close() })
			if err := sink.Apply(ctx, recs); err != nil {
				t.Fatalf("Apply: %v", err)
			}
		})
		if errUp != nil || errDown != nil {
			t.Fatalf("after takeover the synced connection broke: client->server %v, server->client %v", errUp, errDown)
		}
		for i := 0; i < 3; i++ { // and it keeps going, no reset
			if err := transfer(cli, srv, 256<<10, 5*time.Second); err != nil {
				t.Fatalf("client->server through B: %v", err)
			}
			if err := transfer(srv, cli, 256<<10, 5*time.Second); err != nil {
				t.Fatalf("server->client through B: %v", err)
			}
		}
	})
	t.Run("not synced", func(t *testing.T) {
		_, _, errUp, errDown := takeover(t, nil)
		if errUp == nil || errDown == nil {
			t.Fatalf("without sync the connection survived the takeover (client->server %v, server->client %v): the test cannot tell sync from no sync", errUp, errDown)
		}
		t.Logf("without sync: client->server %v; server->client %v", errUp, errDown)
	})
}

// TestKernelNeedsNATSetup records the kernel fact the Sink is built on:
// an entry created with the translated reply tuple but without
// CTA_NAT_SRC (what a library without NAT attributes produces) is
// accepted, listed with the right tuples, and does not translate: the
// connection breaks after takeover exactly as without sync.
func TestKernelNeedsNATSetup(t *testing.T) {
	needRoot(t)
	_, _, errUp, errDown := takeover(t, func(t *testing.T, ctx context.Context, fwB *netnstest.NS, recs []channel.Record) {
		nl, err := dialNetlink(unix.NETLINK_NETFILTER, fwB.FD)
		if err != nil {
			t.Fatal(err)
		}
		defer nl.Close()
		for _, r := range recs {
			if r.Op != channel.Upsert {
				continue
			}
			f, err := Decode(r.Key, r.Value)
			if err != nil || f.Orig.Proto != ProtoTCP {
				continue
			}
			seq := nl.nextSeq()
			b, off := appendHeader(nil, ctMsgType(ctMsgNew), unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_ACK, seq, family(f.Orig))
			e := attrEncoder{b: b}
			putTuple(&e, ctaTupleOrig, f.Orig)
			putTuple(&e, ctaTupleReply, f.Reply) // translated, no NAT setup
			appendState(&e, &f, f.Timeout)
			finishMessage(e.b, off)
			if err := nl.send(ctx, e.b); err != nil {
				t.Fatal(err)
			}
			if err := readAck(ctx, nl, seq); err != nil && !errors.Is(err, unix.EEXIST) {
				t.Fatalf("create without NAT setup: %v", err)
			}
		}
	})
	if errUp == nil && errDown == nil {
		t.Fatal("the kernel translated an entry created without NAT setup: the Sink's NAT encoding may be unnecessary on this kernel")
	}
	t.Logf("translated reply tuple without CTA_NAT_SRC: client->server %v; server->client %v", errUp, errDown)
}

// readAck waits for the answer to request seq.
func readAck(ctx context.Context, nl *nlConn, seq uint32) error {
	for {
		b, err := nl.recv(ctx)
		if err != nil {
			return err
		}
		var res error
		found := false
		eachMessage(b, func(h nlHeader, p []byte) error {
			if h.Type == unix.NLMSG_ERROR && h.Seq == seq {
				found, res = true, errnoOf(p)
			}
			return nil
		})
		if found {
			return res
		}
	}
}

var _ channel.Source = (*Source)(nil)
var _ channel.Sink = (*Sink)(nil)
