package neigh

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// nsPrefix starts the names of the namespaces this package's tests create.
const nsPrefix = "neigh"

// needRoot skips tests that need namespaces, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	netnstest.NeedRoot(t, "creates network namespaces and writes kernel neighbour tables", "ip", "nft")
}

// echoPort is the UDP port of the echo servers.
const echoPort = 7007

// udpEcho runs a UDP echo server on every address of namespace n until
// the test ends.
func udpEcho(t testing.TB, n *netnstest.NS) {
	t.Helper()
	var c net.PacketConn
	var err error
	n.Do(t, func() { c, err = net.ListenPacket("udp", fmt.Sprintf(":%d", echoPort)) })
	if err != nil {
		t.Fatalf("echo server in %s: %v", n.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			l, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo(buf[:l], from)
		}
	}()
}

// reach sends a datagram from namespace n to dst's echo server and
// waits up to timeout for the echo: two-way reachability.
func reach(t testing.TB, n *netnstest.NS, dst string, timeout time.Duration) error {
	t.Helper()
	var c net.Conn
	var err error
	n.Do(t, func() { c, err = net.Dial("udp", net.JoinHostPort(dst, fmt.Sprint(echoPort))) })
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	l, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:l]) != "hello" {
		return errors.New("echo differs")
	}
	return nil
}
