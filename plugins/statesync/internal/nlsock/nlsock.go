// Package nlsock holds the netlink socket glue the statesync channels
// built on github.com/mdlayher/netlink share: opening a socket of a
// protocol in a network namespace joined to multicast groups, a
// request/response exchange bounded by a context, and the interface
// names by index that the rtnetlink channels carry instead of indexes.
package nlsock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Dial opens a netlink socket of protocol proto (unix.NETLINK_*) in
// network namespace netns (0: the caller's) joined to groups. name
// ("rtnetlink", "ctnetlink", ...) starts its error messages.
func Dial(proto int, name string, netns int, groups ...uint32) (*netlink.Conn, error) {
	c, err := netlink.Dial(proto, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("%s socket: %w", name, err)
	}
	for _, g := range groups {
		if err := c.JoinGroup(g); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s join group %d: %w", name, g, err)
		}
	}
	return c, nil
}

// Subscription names the event socket Follow reads.
type Subscription struct {
	// Proto is the netlink protocol (unix.NETLINK_*), Name starts error
	// messages ("rtnetlink"), NetNS is the namespace (0: the caller's).
	Proto int
	Name  string
	NetNS int
	// Groups are the multicast groups joined; ReadBuffer is the socket's
	// receive buffer in bytes.
	Groups     []uint32
	ReadBuffer int
}

// Follow reads the events of sub until ctx ends (it then returns nil) or
// a socket or handle fails. handle gets every batch of event messages
// and a second socket of the same protocol for the queries it needs. A
// receive buffer overrun (ENOBUFS) calls overrun, and following goes on.
func Follow(ctx context.Context, sub Subscription, overrun func(), handle func(q *netlink.Conn, msgs []netlink.Message) error) error {
	c, err := Dial(sub.Proto, sub.Name, sub.NetNS, sub.Groups...)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetReadBuffer(sub.ReadBuffer); err != nil {
		return fmt.Errorf("%s receive buffer: %w", sub.Name, err)
	}
	q, err := Dial(sub.Proto, sub.Name, sub.NetNS)
	if err != nil {
		return err
	}
	defer q.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for {
		msgs, err := c.Receive()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, unix.ENOBUFS):
			overrun()
			continue
		case err != nil:
			return err
		}
		if err := handle(q, msgs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// Execute sends m on c and returns the answers. ctx bounds the wait: its
// deadline becomes the socket's, and cancelling it ends the wait with
// ctx.Err().
func Execute(ctx context.Context, c *netlink.Conn, m netlink.Message) ([]netlink.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	} else {
		_ = c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	msgs, err := c.Execute(m)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return msgs, err
}

// Dump sends a dump request of type req whose body is hdrLen zero bytes
// (every family, every table) and returns the answers of type resp that
// parse accepts; a parse error ends the dump.
func Dump[T any](ctx context.Context, c *netlink.Conn, req, resp netlink.HeaderType, hdrLen int, parse func([]byte) (T, bool, error)) ([]T, error) {
	msgs, err := Execute(ctx, c, netlink.Message{
		Header: netlink.Header{Type: req, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, hdrLen),
	})
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != resp {
			continue
		}
		v, ok, err := parse(m.Data)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// Batch is what one read of an event socket returned.
type Batch struct {
	Msgs []netlink.Message
	Err  error
}

// Receive reads c in a goroutine and delivers each read, until ctx ends
// or a read fails with anything but ENOBUFS (an overrun, after which the
// socket is still usable); it owns c and closes it then.
func Receive(ctx context.Context, c *netlink.Conn) <-chan Batch {
	events := make(chan Batch, 64)
	go func() {
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		for {
			msgs, err := c.Receive()
			select {
			case events <- Batch{msgs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil && !errors.Is(err, unix.ENOBUFS) {
				return
			}
		}
	}()
	return events
}

// ifinfomsgLen is the size of struct ifinfomsg; iflaIfname is IFLA_IFNAME.
const (
	ifinfomsgLen = 16
	iflaIfname   = 3
)

// LinkIndexes is Links by name: the index of every interface of c's
// namespace.
func LinkIndexes(ctx context.Context, c *netlink.Conn) (map[string]int32, error) {
	byIdx, err := Links(ctx, c)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int32, len(byIdx))
	for i, n := range byIdx {
		out[n] = i
	}
	return out, nil
}

// Links dumps the interfaces of c's namespace over rtnetlink (c is a
// NETLINK_ROUTE socket) and returns their names by index.
func Links(ctx context.Context, c *netlink.Conn) (map[int32]string, error) {
	msgs, err := Execute(ctx, c, netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, ifinfomsgLen),
	})
	if err != nil {
		return nil, fmt.Errorf("link dump: %w", err)
	}
	out := make(map[int32]string, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < ifinfomsgLen {
			continue
		}
		idx := int32(binary.NativeEndian.Uint32(m.Data[4:]))
		ad, err := netlink.NewAttributeDecoder(m.Data[ifinfomsgLen:])
		if err != nil {
			return nil, fmt.Errorf("link attributes: %w", err)
		}
		for ad.Next() {
			if ad.Type() == iflaIfname {
				out[idx] = ad.String()
			}
		}
	}
	return out, nil
}
