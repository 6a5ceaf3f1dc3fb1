package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/platforms/lab/labpair"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// errRefused wraps a timer setting a stack does not accept: the runs of
// that stack at those timers are skipped, with the stack's reason.
var errRefused = errors.New("timer setting refused")

// tandemStack runs the pair as the lab builds it: tandemd in both units,
// with the heartbeat timers committed on the active through its local API
// socket (and synced to the standby by tandem's config sync).
type tandemStack struct{}

func (tandemStack) Name() string { return "tandem" }

// PerBeat is 1: one heartbeat per interval on each HA path.
func (tandemStack) PerBeat() int { return 1 }

// DeadInterval is interval x multiple (DET-1).
func (tandemStack) DeadInterval(t timers) time.Duration { return t.dead() }

// Prepare waits for an active and a standby, commits the timers on the
// active, waits until the standby runs them too, and returns the active.
func (tandemStack) Prepare(ctx context.Context, l *topo.Lab, t timers) (string, error) {
	clients := map[string]*local.Client{}
	for _, u := range l.Units {
		clients[u.Name] = local.NewClient(u.Socket)
	}
	role := func(unit string) string { return labpair.Role(ctx, l, unit) }
	active, standby, err := labpair.Elected(ctx, l, 15*time.Second)
	if err != nil {
		return "", fmt.Errorf("tandem: %w", err)
	}
	running := func(unit string) (iv, lvl int, err error) {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		b, err := clients[unit].Config(c, "running")
		if err != nil {
			return 0, 0, err
		}
		return haTimers(b)
	}
	iv, lvl, err := running(active)
	if err != nil {
		return "", fmt.Errorf("tandem: running configuration of %s: %w", active, err)
	}
	if iv != t.IntervalMS || lvl != t.Multiple {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cl := clients[active]
		if err := cl.Set(c, "/ha/config/heartbeat-interval", json.RawMessage(strconv.Itoa(t.IntervalMS))); err != nil {
			return "", fmt.Errorf("%w: tandem: set heartbeat-interval %d: %v", errRefused, t.IntervalMS, err)
		}
		if err := cl.Set(c, "/ha/config/failover-trigger-level", json.RawMessage(strconv.Itoa(t.Multiple))); err != nil {
			return "", fmt.Errorf("%w: tandem: set failover-trigger-level %d: %v", errRefused, t.Multiple, err)
		}
		if _, err := cl.Commit(c, local.CommitRequest{Comment: "bench/takeover timers " + t.String()}); err != nil {
			var api *local.APIError
			if errors.As(err, &api) {
				return "", fmt.Errorf("%w: tandem: commit of %s: %v", errRefused, t, err)
			}
			return "", fmt.Errorf("tandem: commit of %s: %w", t, err)
		}
	}
	// Config sync carries the revision to the standby; its engine picks
	// the timers up from its running configuration.
	if err := waitFor(ctx, 10*time.Second, 20*time.Millisecond, func() bool {
		iv, lvl, err := running(standby)
		return err == nil && iv == t.IntervalMS && lvl == t.Multiple
	}); err != nil {
		return "", fmt.Errorf("tandem: the standby %s did not get the timers %s: %w", standby, t, err)
	}
	// Let both engines run a few intervals at the new rate, then check
	// that the roles held.
	sleep(ctx, t.dead()+200*time.Millisecond)
	if role(active) != "active" || role(standby) != "standby" {
		return "", fmt.Errorf("tandem: roles changed after the timers %s were committed (%s %s, %s %s)",
			t, active, role(active), standby, role(standby))
	}
	return active, nil
}

// StandbyEntries lists the standby's kernel connection tracking table for
// TCP to the echo port: tandem's stateful sync installs the active's
// entries there as they come.
func (tandemStack) StandbyEntries(l *topo.Lab, standby string) ([]byte, error) {
	return output("ip", "netns", "exec", l.Namespace(standby), "conntrack", "-L", "-p", "tcp", "--dport", strconv.Itoa(tcpEchoPort))
}

// haTimers reads heartbeat-interval and failover-trigger-level from an RFC
// 7951 configuration, with the YANG defaults (200 ms, 3) when absent.
func haTimers(cfg []byte) (interval, level int, err error) {
	var d struct {
		HA struct {
			Config struct {
				Interval *int `json:"heartbeat-interval"`
				Level    *int `json:"failover-trigger-level"`
			} `json:"config"`
		} `json:"tandem-ha:ha"`
	}
	if err := json.Unmarshal(cfg, &d); err != nil {
		return 0, 0, err
	}
	interval, level = 200, 3
	if d.HA.Config.Interval != nil {
		interval = *d.HA.Config.Interval
	}
	if d.HA.Config.Level != nil {
		level = *d.HA.Config.Level
	}
	return interval, level, nil
}
