// Package nlsock holds the netlink socket glue the statesync channels
// built on github.com/mdlayher/netlink share: opening a socket of a
// protocol in a network namespace joined to multicast groups, and a
// request/response exchange bounded by a context.
package nlsock

import (
	"context"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
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
