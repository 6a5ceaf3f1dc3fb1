package expect

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/conntrack"
	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// ftpServer is a tiny FTP server in the server namespace: on the control
// connection it greets, answers PASV with a 227 reply naming its data
// listener, and NOOP with 200; the FTP helper of the firewalls reads the
// 227 line and creates the expectation.
type ftpServer struct {
	dataPort int
	data     chan net.Conn
}

func startFTPServer(t *testing.T, srv *netnstest.NS) *ftpServer {
	t.Helper()
	var ctl, dl net.Listener
	var err error
	srv.Do(t, func() {
		if ctl, err = net.Listen("tcp", serverAddr+":21"); err != nil {
			return
		}
		dl, err = net.Listen("tcp", serverAddr+":0")
	})
	if err != nil {
		t.Fatalf("FTP server: %v", err)
	}
	t.Cleanup(func() { ctl.Close(); dl.Close() })
	s := &ftpServer{dataPort: dl.Addr().(*net.TCPAddr).Port, data: make(chan net.Conn, 1)}
	go func() {
		c, err := dl.Accept()
		if err == nil {
			s.data <- c
			t.Cleanup(func() { c.Close() })
		}
	}()
	go func() {
		c, err := ctl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "220 tandem test FTP\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.TrimSpace(line) {
			case "PASV":
				ip := strings.ReplaceAll(serverAddr, ".", ",")
				fmt.Fprintf(c, "227 Entering Passive Mode (%s,%d,%d).\r\n", ip, s.dataPort>>8, s.dataPort&0xff)
			case "NOOP":
				fmt.Fprintf(c, "200 NOOP ok\r\n")
			default:
				fmt.Fprintf(c, "502 not implemented\r\n")
			}
		}
	}()
	return s
}

// ftpCommand sends cmd on the control connection and returns the reply.
func ftpCommand(c net.Conn, r *bufio.Reader, cmd string) (string, error) {
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if cmd != "" {
		if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
			return "", err
		}
	}
	return r.ReadString('\n')
}

// TestFTPTakeoverSYNC2 is the proof of the channel. A client opens an
// FTP control connection through firewall A (FTP helper assigned by an
// nftables ct helper object, forward policy established/related only)
// and gets a PASV reply; A's helper creates the expectation. The master
// connection goes to firewall B through the conntrack channel's Source
// and Sink, the expectation through this channel's; after the route
// switch to B the client's data connection is accepted by B as related
// (and, with SNAT, translated like its master). Without the expectation
// (master only), the same data connection is dropped.
func TestFTPTakeoverSYNC2(t *testing.T) {
	needRoot(t)
	for _, c := range []struct {
		name                string
		nat, sync, scanOnly bool
	}{{"synced", false, true, false}, {"synced with SNAT", true, true, false}, {"master only", false, false, false},
		{"found by the scan", false, true, true}} {
		t.Run(c.name, func(t *testing.T) { ftpTakeover(t, c.nat, c.sync, c.scanOnly) })
	}
}

// ftpTakeover runs the scenario; scanOnly starts the Source's Watch only
// after the expectation exists, so that its table scan must find it.
func ftpTakeover(t *testing.T, nat, syncExp, scanOnly bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tp := newTopology(t, 2, nat)
	fwA, fwB := tp.fws[0], tp.fws[1]
	localA, err := conntrack.NewLocalAddrs(ctx, fwA.FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The conntrack channel's Watch runs on the active as in production:
	// its subscription also makes the kernel report expectation events.
	ctSrc, err := conntrack.NewSource(conntrack.SourceConfig{NetNS: fwA.FD, IsLocal: localA.Contains})
	if err != nil {
		t.Fatal(err)
	}
	ctDone := make(chan error, 1)
	refresh := time.Minute
	if scanOnly {
		ctDone <- nil
		refresh = 200 * time.Millisecond
	} else {
		go func() { ctDone <- ctSrc.Watch(ctx, func(channel.Record) {}, func(string) {}) }()
	}
	src, err := NewSource(SourceConfig{NetNS: fwA.FD, IsLocal: localA.Contains, Refresh: refresh})
	if err != nil {
		t.Fatal(err)
	}
	rec := &netnstest.Recorder{}
	done := make(chan error, 1)
	watch := func() { go func() { done <- src.Watch(ctx, rec.Emit, rec.Lost) }() }
	if !scanOnly {
		watch()
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
		if err := <-ctDone; err != nil {
			t.Errorf("conntrack Watch: %v", err)
		}
	}()
	time.Sleep(100 * time.Millisecond) // the subscriptions are in place before the master is created

	ftp := startFTPServer(t, tp.srv)
	var ctl net.Conn
	tp.cli.Do(t, func() { ctl, err = net.DialTimeout("tcp", serverAddr+":21", 3*time.Second) })
	if err != nil {
		t.Fatalf("FTP control connection through A: %v", err)
	}
	defer ctl.Close()
	r := bufio.NewReader(ctl)
	if l, err := ftpCommand(ctl, r, ""); err != nil || !strings.HasPrefix(l, "220") {
		t.Fatalf("greeting %q: %v", l, err)
	}
	if l, err := ftpCommand(ctl, r, "PASV"); err != nil || !strings.HasPrefix(l, "227") {
		t.Fatalf("PASV reply %q: %v", l, err)
	}
	if scanOnly {
		time.Sleep(100 * time.Millisecond)
		watch()
	}

	var x Expectation
	for deadline := time.Now().Add(5 * time.Second); x.Master.Proto == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no expectation record; A's table:\n%s", fwA.Run(t, "conntrack", "-L", "expect"))
		}
		for _, rc := range rec.Records() {
			if y, err := Decode(rc.Key, rc.Value); err == nil && int(y.Tuple.DstPort) == ftp.dataPort {
				x = y
			}
		}
	}
	if st := src.Stats(); !scanOnly && st.Events == 0 || scanOnly && (st.Scans == 0 || st.Events != 0) {
		t.Errorf("the expectation came neither by event nor by scan as expected: %+v", st)
	}
	if x.Tuple.Src.String() != clientAddr || x.Tuple.Dst.String() != serverAddr || x.Master.DstPort != 21 || x.Helper != "ftp" {
		t.Fatalf("expectation %+v does not describe the PASV data connection", x)
	}
	if nat && (x.NAT == nil || x.Fn != "nat-follow-master") {
		t.Fatalf("SNAT'd master, but the expectation carries no NAT: %+v", x)
	}
	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != 1 || !bytes.Equal(snap[0].Key, AppendKey(nil, &x)) {
		t.Fatalf("Snapshot = %d records, want the expectation", len(snap))
	}

	// Sync to B: the master through the conntrack channel, then the
	// expectation through this one.
	localB, err := conntrack.NewLocalAddrs(ctx, fwB.FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctRecs, err := ctSrc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctSink, err := conntrack.NewSink(conntrack.SinkConfig{NetNS: fwB.FD, IsLocal: localB.Contains})
	if err != nil {
		t.Fatal(err)
	}
	defer ctSink.Close()
	var sink *Sink
	if syncExp {
		// SPEC SYNC-7: the expectation may arrive before its master (the
		// channels are independent): it waits, and is installed once the
		// master is.
		if sink, err = NewSink(SinkConfig{NetNS: fwB.FD, IsLocal: localB.Contains}); err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		if err := sink.Apply(ctx, rec.Records()); err != nil {
			t.Fatalf("Apply before the master: %v", err)
		}
		if st := sink.Stats(); st.Deferred != 1 || st.Pending != 1 || sink.Count() != 0 {
			t.Fatalf("before its master the expectation should wait: %+v", st)
		}
	}
	if err := ctSink.Apply(ctx, ctRecs); err != nil {
		t.Fatalf("conntrack Apply: %v", err)
	}
	if syncExp {
		for deadline := time.Now().Add(3 * time.Second); sink.Count() != 1; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the waiting expectation was not installed after its master: %+v", sink.Stats())
			}
		}
		out := fwB.Run(t, "conntrack", "-L", "expect")
		if !strings.Contains(out, fmt.Sprintf("dport=%d", ftp.dataPort)) {
			t.Fatalf("B's expectation table lacks the data connection:\n%s", out)
		}
		if !nat {
			// Replace with an empty snapshot removes it, Replace with the
			// snapshot puts it back.
			if err := sink.Replace(ctx, nil); err != nil || sink.Count() != 0 {
				t.Fatalf("Replace(empty): %v, count %d", err, sink.Count())
			}
			if out := fwB.Run(t, "conntrack", "-L", "expect"); strings.Contains(out, fmt.Sprintf("dport=%d", ftp.dataPort)) {
				t.Fatalf("Replace(empty) left the expectation:\n%s", out)
			}
			if err := sink.Replace(ctx, snap); err != nil || sink.Count() != 1 {
				t.Fatalf("Replace(snapshot): %v, count %d", err, sink.Count())
			}
		}
	}

	tp.routeVia(t, 2, true) // takeover
	if l, err := ftpCommand(ctl, r, "NOOP"); err != nil || !strings.HasPrefix(l, "200") {
		t.Fatalf("control connection through B: %q %v", l, err)
	}
	var data net.Conn
	tp.cli.Do(t, func() {
		data, err = net.DialTimeout("tcp", fmt.Sprintf("%s:%d", serverAddr, ftp.dataPort), 2*time.Second)
	})
	if !syncExp {
		if err == nil {
			data.Close()
			t.Fatal("without the synced expectation B accepted the data connection: the test cannot tell sync from no sync")
		}
		t.Logf("without the expectation: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("data connection through B: %v\nB's table:\n%s", err, fwB.Run(t, "conntrack", "-L"))
	}
	defer data.Close()
	var sdata net.Conn
	select {
	case sdata = <-ftp.data:
	case <-time.After(3 * time.Second):
		t.Fatal("server did not accept the data connection")
	}
	want := clientAddr
	if nat {
		want = vipAddr
	}
	if got := sdata.RemoteAddr().(*net.TCPAddr).IP.String(); got != want {
		t.Fatalf("server sees the data connection from %s, want %s", got, want)
	}
	payload := make([]byte, 64<<10)
	rand.Read(payload)
	go func() { data.Write(payload); data.Close() }()
	sdata.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, err := io.ReadAll(sdata)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("data transfer through B: %d of %d bytes, %v", len(got), len(payload), err)
	}
	if out := fwB.Run(t, "conntrack", "-L", "-p", "tcp", "--dport", fmt.Sprint(ftp.dataPort)); !strings.Contains(out, "dport="+fmt.Sprint(ftp.dataPort)) {
		t.Fatalf("B tracks no data connection:\n%s", out)
	}
}

var (
	_ channel.Source = (*Source)(nil)
	_ channel.Sink   = (*Sink)(nil)
)
