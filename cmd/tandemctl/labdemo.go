package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/tandem-ha/tandem/platforms/lab/labpair"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
	"github.com/tandem-ha/tandem/platforms/lab/transfer"
)

// The demo's transfer: the client sends a byte stream whose byte i is
// i mod 251 to a sink on the server, through the pair.
const (
	demoServer = "198.51.100.10:5001"
	chunkSize  = 4096
	chunkEvery = time.Millisecond
)

// labDemo runs the takeover demo: a continuous TCP transfer through the
// pair, kill -9 of the active, and a report of the takeover time and
// whether the transfer survived.
func labDemo(ctx context.Context, args []string, name, dir string, out io.Writer) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("lab demo needs root: it creates network namespaces")
	}
	self, _ := os.Executable()
	binDir := filepath.Dir(self)
	step := func(format string, a ...any) { fmt.Fprintf(out, "\n\033[1m== "+format+"\033[0m\n", a...) }

	step("Building the lab: client -- [LAN] -- fw1 + fw2 -- [WAN] -- server, HA and backup-HA links")
	l, err := topo.Up(topo.Options{Name: name, Dir: dir, Tandemd: filepath.Join(binDir, "tandemd"), PluginDir: filepath.Join(binDir, "plugins")})
	if err != nil {
		return err
	}
	defer func() {
		step("Tearing the lab down")
		if derr := l.Down(); derr != nil && err == nil {
			err = derr
		}
	}()
	role := func(unit string) string { return labpair.Role(ctx, l, unit) }
	active, standby, err := labpair.Elected(ctx, l, 15*time.Second)
	if err != nil {
		return fmt.Errorf("the pair did not elect an active unit: %w", err)
	}
	fmt.Fprintf(out, "%s is active, %s is standby (heartbeats every 100 ms on both HA paths, dead after 3 missed;\n", active, standby)
	fmt.Fprintln(out, "stateful sync streams the active's connection table to the standby, which installs it continuously)")

	step("A continuous TCP transfer from the client to the server, through %s", active)
	var ln net.Listener
	if err := topo.InNetns(l.Namespace("server"), func() (err error) { ln, err = net.Listen("tcp", demoServer); return err }); err != nil {
		return err
	}
	defer ln.Close()
	s := &transfer.Sink{}
	go func() {
		if c, err := ln.Accept(); err == nil {
			s.Serve(c)
		}
	}()
	var conn net.Conn
	if err := waitFor(ctx, 10*time.Second, func() bool {
		return topo.InNetns(l.Namespace("client"), func() (err error) {
			conn, err = net.DialTimeout("tcp", demoServer, time.Second)
			return err
		}) == nil
	}); err != nil {
		return fmt.Errorf("no connection through the pair: %w", err)
	}
	sendErr := make(chan error, 1)
	go func() {
		_, err := transfer.Send(ctx, conn, chunkSize, chunkEvery)
		sendErr <- err
	}()
	time.Sleep(2 * time.Second)
	fmt.Fprintf(out, "%.1f MB received in 2 s\n", float64(s.Result().Received)/1e6)

	step("Pulling the power on %s: kill -9 of tandemd and its plugins, every port down", active)
	killed := time.Now()
	if err := l.Kill(active); err != nil {
		return err
	}
	var takeover, reconnect time.Duration
	_ = waitFor(ctx, 10*time.Second, func() bool {
		if takeover == 0 && role(standby) == "active" {
			takeover = time.Since(killed)
		}
		if reconnect == 0 && topo.InNetns(l.Namespace("client"), func() error {
			c, err := net.DialTimeout("tcp", demoServer, 30*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		}) == nil {
			reconnect = time.Since(killed)
		}
		return takeover > 0 && reconnect > 0
	})
	time.Sleep(3 * time.Second)
	conn.Close()
	<-sendErr
	res := s.Result()
	received, last, longest, corrupt := res.Received, res.Last, res.Longest, res.Corrupt

	step("Result")
	report := func(what string, d time.Duration) {
		if d == 0 {
			fmt.Fprintf(out, "%-48s not within 10 s\n", what)
			return
		}
		fmt.Fprintf(out, "%-48s %s after the kill\n", what, d.Round(time.Millisecond))
	}
	report(standby+" active:", takeover)
	report("new connections cross the pair again:", reconnect)
	survived := last.After(killed.Add(takeover))
	switch {
	case corrupt:
		fmt.Fprintln(out, "the running transfer:                            CORRUPTED (bytes out of order)")
		return errors.New("the transfer was corrupted")
	case survived:
		fmt.Fprintf(out, "the running transfer:                            SURVIVED, %.1f MB in order, longest silence %s\n",
			float64(received)/1e6, longest.Round(time.Millisecond))
	default:
		fmt.Fprintf(out, "the running transfer:                            DID NOT SURVIVE (%.1f MB before the kill, nothing after the takeover)\n",
			float64(received)/1e6)
		fmt.Fprintln(out, "  The new active's connection table did not hold the session; see 'tandemctl sync status' and the event log.")
		return errors.New("the transfer did not survive the takeover")
	}
	return nil
}

func waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
