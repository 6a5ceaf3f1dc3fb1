// Package freebind opens member-to-member sockets (heartbeats, config
// sync, probes, the state sync stream) with IP_FREEBIND or IPV6_FREEBIND,
// so that they can bind the unit's own address before the platform driver
// has put it on the port: start-up order then does not matter.
package freebind

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// ListenConfig returns a listen configuration that binds addr even while
// the unit does not hold it yet.
func ListenConfig(addr netip.Addr) net.ListenConfig {
	level, opt := unix.SOL_IP, unix.IP_FREEBIND
	if addr.Is6() && !addr.Is4In6() {
		level, opt = unix.SOL_IPV6, unix.IPV6_FREEBIND
	}
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), level, opt, 1)
		})
		return errors.Join(err, serr)
	}}
}
