package neigh

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/nlsock"
)

// rtnetlink constants (include/uapi/linux/neighbour.h, rtnetlink.h).
const (
	ndaDst      = 1
	ndaLLAddr   = 2
	ndaProtocol = 12

	nudIncomplete = 0x01
	nudReachable  = 0x02
	nudStale      = 0x04
	nudDelay      = 0x08
	nudProbe      = 0x10
	nudFailed     = 0x20
	nudNoARP      = 0x40
	nudPermanent  = 0x80
	// nudValid are the states whose link-layer address is known and
	// current: the entries worth syncing.
	nudValid = nudReachable | nudStale | nudDelay | nudProbe

	ntfProxy  = 0x08
	ntfRouter = 0x80

	ndmsgLen = 12
)

// Protocol is the neighbour protocol (NDA_PROTOCOL) the Sink tags its
// entries with; `ip neigh show proto 0x74` lists them.
const Protocol = 0x74

// dial opens a NETLINK_ROUTE socket in network namespace netns (0: the
// caller's) joined to groups.
func dial(netns int, groups ...uint32) (*netlink.Conn, error) {
	return nlsock.Dial(unix.NETLINK_ROUTE, "rtnetlink", netns, groups...)
}

// kentry is a kernel neighbour entry.
type kentry struct {
	ifindex  int32
	state    uint16
	flags    uint8
	addr     netip.Addr
	lladdr   []byte
	protocol uint8
}

// parseNeigh decodes an RTM_NEWNEIGH/RTM_DELNEIGH payload. ok is false
// for entries of another family or without a destination.
func parseNeigh(b []byte) (e kentry, ok bool, err error) {
	if len(b) < ndmsgLen {
		return e, false, fmt.Errorf("neighbour message of %d bytes", len(b))
	}
	fam := b[0]
	if fam != unix.AF_INET && fam != unix.AF_INET6 {
		return e, false, nil
	}
	e.ifindex = int32(binary.NativeEndian.Uint32(b[4:]))
	e.state = binary.NativeEndian.Uint16(b[8:])
	e.flags = b[10]
	ad, err := netlink.NewAttributeDecoder(b[ndmsgLen:])
	if err != nil {
		return e, false, fmt.Errorf("neighbour attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case ndaDst:
			a, okA := netip.AddrFromSlice(ad.Bytes())
			if !okA || (fam == unix.AF_INET) != a.Is4() {
				return e, false, fmt.Errorf("neighbour address of %d bytes in family %d", len(ad.Bytes()), fam)
			}
			e.addr = a
		case ndaLLAddr:
			e.lladdr = ad.Bytes()
		case ndaProtocol:
			e.protocol = ad.Uint8()
		}
	}
	if err := ad.Err(); err != nil {
		return e, false, fmt.Errorf("neighbour attributes: %w", err)
	}
	return e, e.addr.IsValid(), nil
}

// dumpNeigh reads the neighbour tables of both families.
func dumpNeigh(ctx context.Context, c *netlink.Conn) ([]kentry, error) {
	out, err := nlsock.Dump(ctx, c, unix.RTM_GETNEIGH, unix.RTM_NEWNEIGH, ndmsgLen, parseNeigh)
	if err != nil {
		return nil, fmt.Errorf("neighbour dump: %w", err)
	}
	return out, nil
}

// neighMessage builds an RTM_NEWNEIGH or RTM_DELNEIGH payload.
func neighMessage(ifindex int32, state uint16, flags uint8, addr netip.Addr, lladdr []byte, proto uint8) []byte {
	b := make([]byte, ndmsgLen)
	b[0] = unix.AF_INET
	if addr.Is6() {
		b[0] = unix.AF_INET6
	}
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	binary.NativeEndian.PutUint16(b[8:], state)
	b[10] = flags
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(ndaDst, addr.AsSlice())
	if lladdr != nil {
		ae.Bytes(ndaLLAddr, lladdr)
	}
	if proto != 0 {
		ae.Uint8(ndaProtocol, proto)
	}
	attrs, _ := ae.Encode() // fixed-size attributes: cannot fail
	return append(b, attrs...)
}
