package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// syncState is the /statesync state subtree as RFC 7951 JSON.
type syncState struct {
	Statesync struct {
		State struct {
			BulkSyncComplete bool `json:"bulk-sync-complete"`
		} `json:"state"`
		Channels struct {
			Channel []struct {
				Name  string `json:"name"`
				State struct {
					Entries       json.Number `json:"entries"`
					SentSequence  json.Number `json:"sent-sequence"`
					AckedSequence json.Number `json:"acked-sequence"`
					Lag           json.Number `json:"lag"`
					Losses        json.Number `json:"losses"`
					Resyncs       json.Number `json:"resyncs"`
					Overruns      json.Number `json:"overruns"`
					BytesSent     json.Number `json:"bytes-sent"`
					RecordRate    json.Number `json:"record-rate"`
					ByteRate      json.Number `json:"byte-rate"`
				} `json:"state"`
			} `json:"channel"`
		} `json:"channels"`
	} `json:"tandem-statesync:statesync"`
}

// syncCmd runs `tandemctl sync status`: the stateful sync plugin's
// progress per channel (OBS-1).
func syncCmd(ctx context.Context, c api, args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "status" {
		return fmt.Errorf("usage: tandemctl sync status")
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	s, err := readSync(ctx, c)
	if err != nil {
		return err
	}
	ss := s.Statesync
	bulk := "bulk sync complete"
	if !ss.State.BulkSyncComplete {
		bulk = "BULK SYNC NOT COMPLETE: this unit does not take the role back from a live active (SYNC-7)"
	}
	if len(ss.Channels.Channel) == 0 {
		fmt.Fprintf(out, "stateful sync: off or not running (role %s)\n", st.Role)
		return nil
	}
	fmt.Fprintf(out, "stateful sync: role %s, %s\n\n", st.Role, bulk)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CHANNEL\tENTRIES\tSENT SEQ\tACKED SEQ\tLAG\tRECORDS/S\tBYTES/S\tLOSSES\tRESYNCS\tOVERRUNS\tBYTES SENT\t")
	for _, ch := range ss.Channels.Channel {
		v := ch.State
		lag, _ := strconv.ParseInt(v.Lag.String(), 10, 64)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", ch.Name, v.Entries, v.SentSequence, v.AckedSequence,
			(time.Duration(lag) * time.Microsecond).String(), orZero(v.RecordRate), orZero(v.ByteRate), v.Losses, v.Resyncs, v.Overruns, v.BytesSent)
	}
	return tw.Flush()
}

// orZero prints an absent number as 0.
func orZero(n json.Number) string {
	if n == "" {
		return "0"
	}
	return n.String()
}

// readSync reads the /statesync state subtree.
func readSync(ctx context.Context, c api) (syncState, error) {
	var s syncState
	raw, err := c.State(ctx, "/statesync")
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("state /statesync: %w", err)
	}
	return s, nil
}

// printSyncSummary adds the stateful sync sequence ids and counters to
// `ha status` (OBS-1); `sync status` has the details.
func printSyncSummary(ctx context.Context, c api, out io.Writer) {
	s, err := readSync(ctx, c)
	if err != nil || len(s.Statesync.Channels.Channel) == 0 {
		fmt.Fprintln(out, "stateful sync: off or not running")
		return
	}
	bulk := "bulk sync complete"
	if !s.Statesync.State.BulkSyncComplete {
		bulk = "BULK SYNC NOT COMPLETE"
	}
	var entries, sent, acked, losses, resyncs uint64
	num := func(n json.Number) uint64 { v, _ := strconv.ParseUint(n.String(), 10, 64); return v }
	for _, ch := range s.Statesync.Channels.Channel {
		v := ch.State
		entries += num(v.Entries)
		sent, acked = max(sent, num(v.SentSequence)), max(acked, num(v.AckedSequence))
		losses += num(v.Losses)
		resyncs = max(resyncs, num(v.Resyncs))
	}
	fmt.Fprintf(out, "stateful sync: %s; %d channels, %d entries held; sequence %d sent, %d acknowledged; %d losses, %d resyncs (tandemctl sync status)\n",
		bulk, len(s.Statesync.Channels.Channel), entries, sent, acked, losses, resyncs)
}
