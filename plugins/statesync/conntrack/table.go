package conntrack

import (
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// table is the Source's view of the active's conntrack table: what it
// knows of each connection and what it told the standby. It turns kernel
// observations (events, dumps) into the records to emit.
type table struct {
	filter  Filter
	minAge  time.Duration
	refresh time.Duration
	stats   *sourceCounters

	mu sync.Mutex
	m  map[string]*entry
	// young lists entries waiting for their minimum age (SYNC-5), oldest
	// first.
	young []youngItem
	// tombs remembers when entries were destroyed, so that a dump that
	// started earlier does not bring them back.
	tombs map[string]time.Time
}

type entry struct {
	flow Flow
	// seenAt is when flow was read from the kernel: its Timeout counts
	// from then.
	seenAt time.Time
	// born is when the connection started; zero when unknown (it existed
	// before the Source started watching), which counts as old enough.
	born time.Time
	// emitted: the standby has (or is being sent) this entry.
	emitted bool
	// sentUntil is the expiry the standby was told: emission time plus
	// the remaining timeout carried.
	sentUntil time.Time
	queued    bool
}

type youngItem struct {
	key string
	due time.Time
}

// observation kinds
type obsKind uint8

const (
	obsNew obsKind = iota
	obsUpdate
	// obsScan: read by the periodic refresh dump.
	obsScan
	// obsSnapshot: read by a bulk sync dump; always yields an Upsert when
	// the flow is synced.
	obsSnapshot
)

func newTable(filter Filter, minAge, refresh time.Duration, stats *sourceCounters) *table {
	return &table{filter: filter, minAge: minAge, refresh: refresh, stats: stats,
		m: map[string]*entry{}, tombs: map[string]time.Time{}}
}

// remaining is the entry's timeout left at now, at least one second.
func (e *entry) remaining(now time.Time) uint32 {
	left := int64(e.flow.Timeout) - int64(now.Sub(e.seenAt)/time.Second)
	return uint32(max(left, 1))
}

// upsert emits e's flow with its timeout as of now.
func (t *table) upsert(e *entry, now time.Time) channel.Record {
	f := e.flow
	f.Timeout = e.remaining(now)
	e.emitted = true
	e.sentUntil = now.Add(time.Duration(f.Timeout) * time.Second)
	t.stats.upserts.Add(1)
	return UpsertRecord(&f)
}

func (t *table) del(e *entry) channel.Record {
	e.emitted = false
	t.stats.deletes.Add(1)
	return DeleteRecord(&e.flow)
}

// observe takes a flow read from the kernel at now and returns what to
// emit. dumpStart is the start of the dump that read it (dumps only).
func (t *table) observe(kind obsKind, f Flow, now, dumpStart time.Time, out []channel.Record) []channel.Record {
	var kb [maxKeyLen]byte
	key := string(AppendKey(kb[:0], &f))
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[key]
	if (kind == obsScan || kind == obsSnapshot) && e == nil {
		if died, ok := t.tombs[key]; ok && !died.Before(dumpStart) {
			return out // destroyed while the dump ran
		}
	}
	if !syncable(&f) {
		t.stats.skippedState.Add(1)
		if e != nil {
			delete(t.m, key)
			if e.emitted {
				out = append(out, t.del(e))
			}
		}
		return out
	}
	if e == nil {
		e = &entry{}
		switch {
		case f.Start != 0:
			e.born = now.Add(-time.Duration(time.Now().UnixNano() - int64(f.Start)))
		case kind == obsNew:
			e.born = now
		case kind == obsScan && t.minAge > 0:
			// Its NEW event may still be queued: count its age from now.
			// (A bulk sync counts unknown flows as old: they predate it.)
			e.born = now
		}
		t.m[key] = e
	}
	if kind == obsNew || kind == obsUpdate {
		// Events carry protocol info and labels only when they change.
		if f.TCP == nil && f.SCTP == nil && f.DCCP == nil {
			f.TCP, f.SCTP, f.DCCP = e.flow.TCP, e.flow.SCTP, e.flow.DCCP
		}
		if f.Labels == nil {
			f.Labels = e.flow.Labels
		}
	}
	e.flow, e.seenAt = f, now
	switch t.filter.check(&f) {
	case skipLocal:
		t.stats.skippedLocal.Add(1)
		if e.emitted {
			out = append(out, t.del(e))
		}
		return out
	case skipMark:
		t.stats.skippedMark.Add(1)
		if e.emitted {
			out = append(out, t.del(e))
		}
		return out
	}
	if !e.born.IsZero() && now.Sub(e.born) < t.minAge {
		if !e.queued {
			e.queued = true
			t.young = append(t.young, youngItem{key: key, due: e.born.Add(t.minAge)})
		}
		return out
	}
	switch {
	case kind != obsScan || !e.emitted:
		out = append(out, t.upsert(e, now))
	case needsRefresh(now, e.sentUntil, time.Duration(f.Timeout)*time.Second, t.refresh):
		t.stats.refreshes.Add(1)
		out = append(out, t.upsert(e, now))
	}
	return out
}

// destroyed takes a DESTROY event.
func (t *table) destroyed(f Flow, now time.Time, out []channel.Record) []channel.Record {
	var kb [maxKeyLen]byte
	key := string(AppendKey(kb[:0], &f))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tombs[key] = now
	e := t.m[key]
	if e == nil {
		// Unknown to us (it predates a resync): a delete of a missing
		// entry is harmless on the standby.
		if t.filter.check(&f) == syncIt {
			t.stats.deletes.Add(1)
			out = append(out, DeleteRecord(&f))
		}
		return out
	}
	delete(t.m, key)
	if e.emitted {
		return append(out, t.del(e))
	}
	if e.queued {
		t.stats.youngDropped.Add(1)
	}
	return out
}

// due emits the entries that reached the minimum age by now.
func (t *table) due(now time.Time, out []channel.Record) []channel.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for ; n < len(t.young) && !t.young[n].due.After(now); n++ {
		e := t.m[t.young[n].key]
		if e == nil || !e.queued {
			continue
		}
		e.queued = false
		if !e.emitted && t.filter.check(&e.flow) == syncIt {
			out = append(out, t.upsert(e, now))
		}
	}
	t.young = append(t.young[:0], t.young[n:]...)
	return out
}

// sweep ends a full dump that started at dumpStart: entries neither in it
// nor observed since are gone (their DESTROY was lost) and are forgotten,
// with a Delete when the standby has them and emitDeletes is set.
func (t *table) sweep(dumpStart time.Time, emitDeletes bool, out []channel.Record) []channel.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.m {
		if e.seenAt.Before(dumpStart) {
			delete(t.m, k)
			if e.emitted && emitDeletes {
				out = append(out, t.del(e))
			}
		}
	}
	for k, died := range t.tombs {
		if died.Before(dumpStart) {
			delete(t.tombs, k)
		}
	}
	return out
}

// snapshotRecord returns the record for a flow read by a bulk sync dump,
// or false when the flow is not synced (yet).
func (t *table) snapshotRecord(f Flow, now, dumpStart time.Time) (channel.Record, bool) {
	for _, r := range t.observe(obsSnapshot, f, now, dumpStart, nil) {
		if r.Op == channel.Upsert {
			return r, true
		}
	}
	return channel.Record{}, false
}

func (t *table) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// refreshTolerance absorbs the kernel's rounding of timeouts to seconds.
const refreshTolerance = time.Second

// needsRefresh is the timeout rule (docs/statesync-conntrack.md): the
// standby was told the flow expires at sentUntil (and adds a margin of two
// refresh periods); the active now says it has remaining left, so traffic
// pushed its expiry later by drift. Re-send when the standby's knowledge
// runs short (less than two periods left) or has drifted by more than a
// period and more than an eighth of the remaining life.
func needsRefresh(now, sentUntil time.Time, remaining, period time.Duration) bool {
	told := sentUntil.Sub(now)
	drift := remaining - told
	if drift <= refreshTolerance {
		return false
	}
	return told < 2*period || drift > max(period, remaining/8)
}
