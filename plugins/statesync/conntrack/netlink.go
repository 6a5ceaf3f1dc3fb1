package conntrack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"
)

const (
	nlmsgHeaderLen = 16
	nfgenHeaderLen = 4
	// recvBufSize holds the largest datagram the kernel sends: dump
	// batches are at most 32 KiB.
	recvBufSize = 64 << 10
)

// nlHeader is struct nlmsghdr.
type nlHeader struct {
	Len   uint32
	Type  uint16
	Flags uint16
	Seq   uint32
	Pid   uint32
}

// nlConn is a netlink socket of one protocol in one network namespace.
type nlConn struct {
	c    *socket.Conn
	seq  uint32
	rbuf []byte
}

// dialNetlink opens a netlink socket of protocol proto (NETLINK_NETFILTER,
// NETLINK_ROUTE) in the network namespace netns (a file descriptor; 0 is
// the caller's own) and joins the multicast groups.
func dialNetlink(proto, netns int, groups ...int) (*nlConn, error) {
	c, err := socket.Socket(unix.AF_NETLINK, unix.SOCK_RAW, proto, "netlink", &socket.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := c.Bind(&unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		c.Close()
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	// Errors come back without the request echoed: acks stay small.
	_ = c.SetsockoptInt(unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	for _, g := range groups {
		if err := c.SetsockoptInt(unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			c.Close()
			return nil, fmt.Errorf("netlink join group %d: %w", g, err)
		}
	}
	return &nlConn{c: c, rbuf: make([]byte, recvBufSize)}, nil
}

func (n *nlConn) Close() error { return n.c.Close() }

// setBuffers sets the receive and send buffer sizes, past the
// rmem_max/wmem_max limits when the process may (CAP_NET_ADMIN).
func (n *nlConn) setBuffers(rcv, snd int) error {
	if rcv > 0 {
		if err := n.c.SetReadBuffer(rcv); err != nil {
			return fmt.Errorf("netlink receive buffer %d: %w", rcv, err)
		}
	}
	if snd > 0 {
		if err := n.c.SetWriteBuffer(snd); err != nil {
			return fmt.Errorf("netlink send buffer %d: %w", snd, err)
		}
	}
	return nil
}

// readBuffer reports the receive buffer size the kernel granted.
func (n *nlConn) readBuffer() int {
	v, _ := n.c.ReadBuffer()
	return v
}

func (n *nlConn) nextSeq() uint32 {
	n.seq++
	return n.seq
}

func (n *nlConn) send(ctx context.Context, b []byte) error {
	if _, err := n.c.Sendmsg(ctx, b, nil, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}, 0); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	return nil
}

// recv reads one datagram; the slice is valid until the next recv. An
// overrun of the receive buffer is reported as an error wrapping
// unix.ENOBUFS; the socket stays usable.
func (n *nlConn) recv(ctx context.Context) ([]byte, error) {
	l, _, flags, _, err := n.c.Recvmsg(ctx, n.rbuf, nil, 0)
	if err != nil {
		return nil, err
	}
	if flags&unix.MSG_TRUNC != 0 {
		return nil, fmt.Errorf("netlink datagram larger than %d bytes", len(n.rbuf))
	}
	return n.rbuf[:l], nil
}

// eachMessage calls fn for every netlink message in datagram b.
func eachMessage(b []byte, fn func(h nlHeader, payload []byte) error) error {
	for len(b) >= nlmsgHeaderLen {
		h := nlHeader{
			Len:   binary.NativeEndian.Uint32(b),
			Type:  binary.NativeEndian.Uint16(b[4:]),
			Flags: binary.NativeEndian.Uint16(b[6:]),
			Seq:   binary.NativeEndian.Uint32(b[8:]),
			Pid:   binary.NativeEndian.Uint32(b[12:]),
		}
		if h.Len < nlmsgHeaderLen || int(h.Len) > len(b) {
			return fmt.Errorf("netlink message of length %d in %d bytes", h.Len, len(b))
		}
		if err := fn(h, b[nlmsgHeaderLen:h.Len]); err != nil {
			return err
		}
		b = b[min(nlaAlign(int(h.Len)), len(b)):]
	}
	return nil
}

// errnoOf decodes the error code of an NLMSG_ERROR or NLMSG_DONE payload
// (0 is an acknowledgement).
func errnoOf(payload []byte) error {
	if len(payload) < 4 {
		return errors.New("short netlink error message")
	}
	if code := int32(binary.NativeEndian.Uint32(payload)); code < 0 {
		return syscall.Errno(-code)
	}
	return nil
}

// appendHeader starts a netlink message with an nfgenmsg (or any 4-byte
// family header) and returns its offset for finishMessage.
func appendHeader(b []byte, typ, flags uint16, seq uint32, fam uint8) ([]byte, int) {
	off := len(b)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, fam, 0, 0, 0) // nfgenmsg: family, version 0, res_id 0
	return b, off
}

func finishMessage(b []byte, off int) {
	binary.NativeEndian.PutUint32(b[off:], uint32(len(b)-off))
}

// dump sends a dump request of message type typ for family fam and calls
// fn with the payload of every answer until the dump ends.
func (n *nlConn) dump(ctx context.Context, typ uint16, fam uint8, fn func(payload []byte) error) error {
	seq := n.nextSeq()
	req, off := appendHeader(nil, typ, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq, fam)
	finishMessage(req, off)
	if err := n.send(ctx, req); err != nil {
		return err
	}
	for {
		b, err := n.recv(ctx)
		if err != nil {
			return fmt.Errorf("netlink dump: %w", err)
		}
		done := false
		err = eachMessage(b, func(h nlHeader, p []byte) error {
			if h.Seq != seq {
				return nil
			}
			switch h.Type {
			case unix.NLMSG_DONE:
				done = true
				return errnoOf(p)
			case unix.NLMSG_ERROR:
				done = true
				return errnoOf(p)
			}
			return fn(p)
		})
		if err != nil {
			return fmt.Errorf("netlink dump: %w", err)
		}
		if done {
			return nil
		}
	}
}
