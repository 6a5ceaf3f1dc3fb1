package ha

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/tandem-ha/tandem/plugins/sdk/freebind"
)

// listen opens the UDP socket of a heartbeat path on the unit's own link
// address, even before the platform driver has put the address on the port.
func listen(ctx context.Context, local netip.AddrPort) (*net.UDPConn, error) {
	lc := freebind.ListenConfig(local.Addr())
	pc, err := lc.ListenPacket(ctx, "udp", local.String())
	if err != nil {
		return nil, fmt.Errorf("heartbeat socket on %s: %w", local, err)
	}
	return pc.(*net.UDPConn), nil
}

// datagram is one received heartbeat datagram.
type datagram struct {
	path int
	from netip.AddrPort
	data []byte
}

// receive reads datagrams from conn until it is closed and hands them to
// out, tagged with the path index.
func receive(conn *net.UDPConn, path int, out chan<- datagram, done <-chan struct{}) {
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		select {
		case out <- datagram{path: path, from: from, data: append([]byte(nil), buf[:n]...)}:
		case <-done:
			return
		}
	}
}
