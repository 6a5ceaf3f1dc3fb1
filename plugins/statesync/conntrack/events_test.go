package conntrack

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// icmpEcho sends one ICMP echo request from the namespace to dst with
// identifier id and waits for the reply.
func icmpEcho(t *testing.T, ns *netnstest.NS, dst string, id uint16) {
	t.Helper()
	var c net.PacketConn
	var err error
	ns.Do(t, func() { c, err = net.ListenPacket("ip4:icmp", clientAddr) })
	if err != nil {
		t.Fatalf("icmp socket: %v", err)
	}
	defer c.Close()
	msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 't', 'a', 'n', 'd', 'e', 'm'}
	var sum uint32
	for i := 0; i < len(msg); i += 2 {
		sum += uint32(msg[i])<<8 | uint32(msg[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(msg[2:], ^uint16(sum))
	if _, err := c.WriteTo(msg, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
		t.Fatalf("send echo: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no echo reply: %v", err)
		}
		if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id {
			return
		}
	}
}

// udpExchange sends a datagram client -> server and the answer back.
func udpExchange(t *testing.T, tp *topology, port int) (clientPort uint16) {
	t.Helper()
	var srv, cli net.PacketConn
	var err error
	tp.srv.Do(t, func() { srv, err = net.ListenPacket("udp", fmt.Sprintf("%s:%d", serverAddr, port)) })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tp.cli.Do(t, func() { cli, err = net.ListenPacket("udp", clientAddr+":0") })
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.WriteTo([]byte("query"), &net.UDPAddr{IP: net.ParseIP(serverAddr), Port: port}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	srv.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "query" {
		t.Fatalf("server did not get the datagram: %v", err)
	}
	if _, err := srv.WriteTo([]byte("answer"), from); err != nil {
		t.Fatal(err)
	}
	cli.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, _, err = cli.ReadFrom(buf); err != nil || string(buf[:n]) != "answer" {
		t.Fatalf("client did not get the answer: %v", err)
	}
	return uint16(cli.LocalAddr().(*net.UDPAddr).Port)
}

// waitDelete waits until rec holds a delete of orig.
func waitDelete(t *testing.T, rec *netnstest.Recorder, orig Tuple) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, dels := flows(t, rec, orig.Proto)
		for _, d := range dels {
			if d == orig {
				return
			}
		}
	}
	t.Fatalf("no delete record for %s", orig)
}

// TestWatchEventsSYNC1 captures the kernel's NEW, UPDATE and DESTROY
// events of TCP, UDP and ICMP traffic forwarded (and SNAT'd) by a firewall
// namespace, as records.
func TestWatchEventsSYNC1(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tp := newTopology(t, 1)
	fw := tp.fws[0]
	local, err := NewLocalAddrs(ctx, fw.FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(SourceConfig{NetNS: fw.FD, IsLocal: local.Contains})
	if err != nil {
		t.Fatal(err)
	}
	rec := startWatch(t, ctx, src, fw)
	t.Cleanup(cancel)
	before := src.Stats()

	// TCP: NEW (SYN_SENT), UPDATEs up to ESTABLISHED and ASSURED, DESTROY.
	cli, srv := dialThrough(t, tp, 7100)
	if err := transfer(cli, srv, 4096, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := transfer(srv, cli, 4096, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	cport := uint16(cli.LocalAddr().(*net.TCPAddr).Port)
	tcpOrig := Tuple{Src: netip.MustParseAddr(clientAddr), Dst: netip.MustParseAddr(serverAddr), Proto: ProtoTCP, SrcPort: cport, DstPort: 7100}
	syn := waitRecord(t, rec, ProtoTCP, func(f Flow) bool { return f.Orig == tcpOrig && f.TCP != nil && f.TCP.State == TCPSynSent })
	if syn.Status&StatusSeenReply != 0 {
		t.Errorf("NEW record already has SEEN_REPLY: %#x", syn.Status)
	}
	est := waitRecord(t, rec, ProtoTCP, func(f Flow) bool {
		return f.Orig == tcpOrig && f.TCP != nil && f.TCP.State == TCPEstablished && f.Status&StatusAssured != 0
	})
	if est.Reply.Dst.String() != vipAddr || est.Timeout < 400000 {
		t.Errorf("established record: reply %s (want SNAT to %s), timeout %d (want the 5-day established timeout)", est.Reply, vipAddr, est.Timeout)
	}
	cli.Close()
	srv.Close()
	// FIN exchange: TIME_WAIT for two minutes; end it now.
	fw.Run(t, "conntrack", "-D", "-p", "tcp", "--orig-port-src", fmt.Sprint(cport))
	waitDelete(t, rec, tcpOrig)

	// UDP: NEW, UPDATE on the answer (SEEN_REPLY), DESTROY.
	uport := udpExchange(t, tp, 5300)
	udpOrig := Tuple{Src: netip.MustParseAddr(clientAddr), Dst: netip.MustParseAddr(serverAddr), Proto: ProtoUDP, SrcPort: uport, DstPort: 5300}
	waitRecord(t, rec, ProtoUDP, func(f Flow) bool { return f.Orig == udpOrig && f.Status&StatusSeenReply == 0 })
	waitRecord(t, rec, ProtoUDP, func(f Flow) bool { return f.Orig == udpOrig && f.Status&StatusSeenReply != 0 })
	fw.Run(t, "conntrack", "-D", "-p", "udp", "--orig-port-src", fmt.Sprint(uport))
	waitDelete(t, rec, udpOrig)

	// ICMP echo: NEW, UPDATE on the reply, DESTROY.
	icmpEcho(t, tp.cli, serverAddr, 0x5151)
	icmpOrig := Tuple{Src: netip.MustParseAddr(clientAddr), Dst: netip.MustParseAddr(serverAddr), Proto: ProtoICMP, ICMPID: 0x5151, ICMPType: 8}
	ic := waitRecord(t, rec, ProtoICMP, func(f Flow) bool { return f.Orig == icmpOrig && f.Status&StatusSeenReply != 0 })
	if ic.Reply.Dst.String() != vipAddr || ic.Reply.ICMPType != 0 {
		t.Errorf("icmp reply tuple %s, want an echo reply to %s", ic.Reply, vipAddr)
	}
	fw.Run(t, "conntrack", "-D", "-p", "icmp")
	waitDelete(t, rec, icmpOrig)

	st := src.Stats()
	if st.EventsNew-before.EventsNew < 3 || st.EventsUpdate-before.EventsUpdate < 3 || st.EventsDestroy-before.EventsDestroy < 3 {
		t.Errorf("event counters new %d update %d destroy %d, want >= 3 each", st.EventsNew-before.EventsNew,
			st.EventsUpdate-before.EventsUpdate, st.EventsDestroy-before.EventsDestroy)
	}
	if l := rec.LostReasons(); len(l) != 0 || st.Overruns != 0 {
		t.Errorf("unexpected overruns: %v", l)
	}
}
