package e2e

import (
	"net"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// ping sends one ICMP echo request from inside network namespace ns to
// the IPv4 address dst and reports whether the reply came within 1 s.
func ping(ns, dst string) (bool, error) { return pingFrom(ns, "0.0.0.0", dst) }

// pingFrom is ping with the request's source address chosen.
func pingFrom(ns, src, dst string) (bool, error) {
	var conn *icmp.PacketConn
	if err := topo.InNetns(ns, func() (err error) {
		conn, err = icmp.ListenPacket("ip4:icmp", src)
		return err
	}); err != nil {
		return false, err
	}
	defer conn.Close()
	id := os.Getpid() & 0xffff
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("tandem-e2e")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return false, err
	}
	if _, err := conn.WriteTo(b, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
		return false, nil // unreachable: no route or link down
	}
	deadline := time.Now().Add(time.Second)
	buf := make([]byte, 1500)
	for {
		if err := conn.SetReadDeadline(deadline); err != nil {
			return false, err
		}
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			return false, nil // timed out
		}
		reply, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || reply.Type != ipv4.ICMPTypeEchoReply || peer.String() != dst {
			continue
		}
		if echo, ok := reply.Body.(*icmp.Echo); ok && echo.ID == id {
			return true, nil
		}
	}
}
