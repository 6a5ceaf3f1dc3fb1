package main

import (
	"context"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/statesync/stream"
)

// statusInterval is how often Watch reports the sync status.
const statusInterval = time.Second

// categories maps the stream's channel names to the tandem-statesync
// categories the state tree uses.
var categories = map[string]string{"conntrack": "connections"}

// Watch implements sdk.Plugin: the sync status every second and at once
// when the bulk sync state changes, and the stream's events.
func (p *plugin) Watch(ctx context.Context, emit func(*sdk.Observation)) error {
	tick := time.NewTicker(statusInterval / 10)
	defer tick.Stop()
	var last time.Time
	lastBulk, sentOnce := false, false
	prev := map[string]*sdk.ChannelStatus{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case o := <-p.events:
			emit(o)
		case now := <-tick.C:
			st := p.status()
			if sentOnce && st.GetBulkSyncComplete() == lastBulk && now.Sub(last) < statusInterval {
				continue
			}
			if sentOnce {
				rates(st, prev, now.Sub(last))
			}
			emit(sdk.NewSyncObservation(now, st))
			last, lastBulk, sentOnce = now, st.GetBulkSyncComplete(), true
			for _, c := range st.GetChannels() {
				prev[c.GetName()] = c
			}
		}
	}
}

// rates fills each channel's per-second rates from its counters in prev,
// taken elapsed earlier: records sent plus installed, bytes sent.
func rates(st *sdk.SyncStatus, prev map[string]*sdk.ChannelStatus, elapsed time.Duration) {
	secs := elapsed.Seconds()
	if secs <= 0 {
		return
	}
	for _, c := range st.GetChannels() {
		p, ok := prev[c.GetName()]
		if !ok {
			continue
		}
		records := (c.GetSentRecords() + c.GetApplied()) - (p.GetSentRecords() + p.GetApplied())
		c.RecordRate = uint64(float64(records) / secs)
		c.ByteRate = uint64(float64(c.GetBytesSent()-p.GetBytesSent()) / secs)
	}
}

// status is the current sync status. Without a stream (stateful sync off)
// there is nothing to wait for: the bulk sync counts as complete.
func (p *plugin) status() *sdk.SyncStatus {
	p.mu.Lock()
	r, role := p.run, p.role
	p.mu.Unlock()
	if r == nil {
		return &sdk.SyncStatus{BulkSyncComplete: true}
	}
	st := r.ep.Stats()
	// Only an active unit has nothing to wait for; a unit that is not yet
	// standby has not received a bulk sync.
	out := &sdk.SyncStatus{BulkSyncComplete: role == stream.RoleActive || (role == stream.RoleStandby && st.BulkComplete), PeerHeard: st.PeerUp}
	for _, c := range st.Channels {
		name := c.Name
		if cat, ok := categories[name]; ok {
			name = cat
		}
		entries := uint64(0)
		if c.Entries > 0 {
			entries = uint64(c.Entries)
		}
		out.Channels = append(out.Channels, &sdk.ChannelStatus{
			Name: name, Entries: entries, SentSequence: c.SentSeq, AckedSequence: c.AckedSeq,
			LagMicroseconds: uint64(c.Lag.Microseconds()), Losses: c.Losses, Resyncs: c.Resyncs,
			Overruns: c.Overruns, BytesSent: c.BytesSent, Applied: c.Applied, ApplyErrors: c.ApplyErrors,
			SentRecords: c.Sent,
		})
	}
	return out
}
