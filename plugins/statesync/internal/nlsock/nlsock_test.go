package nlsock

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// linkDump asks rtnetlink for every link of the namespace.
var linkDump = netlink.Message{
	Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
	Data:   make([]byte, 16), // struct ifinfomsg
}

// TestExecuteAnswers dumps the links of the test's own namespace: at
// least the loopback answers.
func TestExecuteAnswers(t *testing.T) {
	c, err := Dial(unix.NETLINK_ROUTE, "rtnetlink", 0, unix.RTNLGRP_LINK)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs, err := Execute(t.Context(), c, linkDump)
	if err != nil {
		t.Fatalf("link dump: %v", err)
	}
	n := 0
	for _, m := range msgs {
		if m.Header.Type == unix.RTM_NEWLINK {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("link dump answered %d messages, none RTM_NEWLINK", len(msgs))
	}
}

// TestExecuteCancelled returns the context's error, not a socket
// timeout, when the context is already done.
func TestExecuteCancelled(t *testing.T) {
	c, err := Dial(unix.NETLINK_ROUTE, "rtnetlink", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Execute(ctx, c, linkDump); !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestDialNamesProtocol puts the caller's name on errors.
func TestDialNamesProtocol(t *testing.T) {
	_, err := Dial(unix.NETLINK_ROUTE, "rtnetlink", 0, 1<<20)
	if err == nil {
		t.Fatal("joining group 1<<20 succeeded")
	}
	if got := err.Error(); !strings.HasPrefix(got, "rtnetlink join group") {
		t.Fatalf("error %q does not start with the protocol's name", got)
	}
}

// TestLinksNamesLoopback finds the loopback by name in the test's own
// namespace, and LinkIndexes by index.
func TestLinksNamesLoopback(t *testing.T) {
	c, err := Dial(unix.NETLINK_ROUTE, "rtnetlink", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	links, err := Links(t.Context(), c)
	if err != nil {
		t.Fatalf("Links: %v", err)
	}
	found := false
	for _, name := range links {
		found = found || name == "lo"
	}
	if !found {
		t.Fatalf("Links = %v, no loopback", links)
	}
	byName, err := LinkIndexes(t.Context(), c)
	if err != nil || len(byName) != len(links) || links[byName["lo"]] != "lo" {
		t.Fatalf("LinkIndexes = %v, %v; want the inverse of %v", byName, err, links)
	}
}
