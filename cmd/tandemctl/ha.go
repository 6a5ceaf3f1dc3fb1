package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/northbound/service"
)

// haCmd runs `tandemctl ha status|force-active|force-standby|reset|failover`.
func haCmd(ctx context.Context, c api, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("ha status [-json] | force-active | force-standby | reset | failover | sync-settings | sync-firmware | sync-test | diff | join -peer ADDR -key KEY -port PORT -address ADDR/LEN")
	}
	switch args[0] {
	case "status":
	case "sync-settings":
		o, err := c.SyncSettings(ctx)
		if err != nil {
			return err
		}
		if o.Mode == "" {
			fmt.Fprintf(out, "the standby already holds this configuration (its revision %d)\n", o.PeerRevision)
		} else {
			fmt.Fprintf(out, "configuration sent whole to the standby: its revision %d\n", o.PeerRevision)
		}
		return nil
	case "sync-firmware":
		o, err := c.SyncFirmware(ctx)
		if err != nil {
			return err
		}
		if o.InSync {
			fmt.Fprintf(out, "both units run firmware %s: nothing to send\n", o.LocalVersion)
		} else {
			fmt.Fprintf(out, "firmware %s sent to the peer (it ran %s); the peer installs it and restarts\n", o.LocalVersion, o.PeerVersion)
		}
		return nil
	case "sync-test":
		r, err := c.SyncTest(ctx)
		if err != nil {
			return err
		}
		state := "IN SYNC"
		if !r.InSync {
			state = "NOT IN SYNC (tandemctl ha diff shows what differs)"
		}
		fmt.Fprintf(out, "peer %s at %s answered in %s, authenticated; its revision %d; %s\n",
			r.Peer, r.Address, r.Duration.Round(time.Microsecond), r.Revision, state)
		return nil
	case "join":
		fs := flag.NewFlagSet("ha join", flag.ContinueOnError)
		var req service.JoinRequest
		fs.StringVar(&req.Peer, "peer", "", "the active member's HA control address")
		fs.StringVar(&req.Key, "key", "", "the pair's pre-shared key")
		fs.StringVar(&req.Port, "port", "", "this unit's HA control port, such as X2")
		fs.StringVar(&req.Address, "address", "", "this unit's address on the HA link, such as 169.254.10.2/29")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		active, err := c.Join(ctx, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "joined the pair of %s; this unit receives every revision from it by config sync\n", active)
		return nil
	case "diff":
		d, err := c.HADiff(ctx)
		if err != nil {
			return err
		}
		if len(d.Changes) == 0 {
			fmt.Fprintf(out, "this unit and %s hold the same configuration\n", d.To)
		}
		for _, ch := range d.Changes {
			fmt.Fprintln(out, ch.String())
		}
		return nil
	default:
		if err := c.HAAdmin(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: done\n", args[0])
		return nil
	}
	st, err := c.HAStatus(ctx)
	if err != nil {
		return err
	}
	if len(args) > 1 && args[1] == "-json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printHA(out, st)
	if st.Running {
		printSyncSummary(ctx, c, out)
	}
	return nil
}

// printHA shows both members side by side, as hainfo does.
func printHA(out io.Writer, st ha.Status) {
	if !st.Running {
		fmt.Fprintf(out, "HA is not running: %s\n", st.Reason)
		return
	}
	peer := ha.Member{Serial: "(not heard)"}
	if st.Peer != nil {
		peer = *st.Peer
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(name string, a, b any) { fmt.Fprintf(tw, "%s\t%v\t%v\n", name, a, b) }
	row("", "THIS UNIT", "PEER")
	row("serial", st.Self.Serial, peer.Serial)
	row("designation", st.Self.Designation, orDash(peer.Designation))
	row("role", st.Self.Role, orDash(peer.Role))
	row("since", st.Self.Since.Local().Format(time.DateTime), "-")
	row("quality", fmt.Sprintf("%d%%", st.Self.Quality), fmt.Sprintf("%d%%", peer.Quality))
	row("priority", st.Self.Priority, peer.Priority)
	row("forced", st.Self.Forced, orDash(peer.Forced))
	row("model", st.Self.Model, orDash(peer.Model))
	row("firmware", st.Self.Firmware, orDash(peer.Firmware))
	row("bulk sync", st.Self.BulkSync, peer.BulkSync)
	tw.Flush()
	if st.Degraded || st.Refused {
		fmt.Fprintf(out, "\npair: degraded=%v refused=%v: %s\n", st.Degraded, st.Refused, st.PairReason)
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tLOCAL\tPEER\tSTATE\tRTT\tLAST HEARTBEAT")
	for _, p := range st.Paths {
		state, last := "down", "-"
		if p.Up {
			state = "ok"
		}
		if !p.LastHeartbeat.IsZero() {
			last = time.Since(p.LastHeartbeat).Round(time.Millisecond).String() + " ago"
		}
		rtt := "-"
		if p.RTT > 0 {
			rtt = p.RTT.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Local, p.Peer, state, rtt, last)
	}
	tw.Flush()
	c := st.Counters
	fmt.Fprintf(out, "\nheartbeats accepted %d; refused: bad auth %d, malformed %d, replayed %d, reflected %d, unencrypted %d\n",
		c.Accepted, c.BadAuth, c.Malformed, c.Replayed, c.Reflected, c.Unencrypted)
}
