package netnstest

import (
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

// Recorder collects what a channel Source emits: pass r.Emit and r.Lost
// to its Watch. It is safe for concurrent use; the zero value is ready.
type Recorder struct {
	mu   sync.Mutex
	recs []channel.Record
	at   []time.Time
	lost []string
}

// Emit records rec and when it came.
func (r *Recorder) Emit(rec channel.Record) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
}

// Lost records the reason the Source gave for losing track.
func (r *Recorder) Lost(reason string) {
	r.mu.Lock()
	r.lost = append(r.lost, reason)
	r.mu.Unlock()
}

// Records returns a copy of the records emitted so far, oldest first.
func (r *Recorder) Records() []channel.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]channel.Record(nil), r.recs...)
}

// LostReasons returns a copy of the reasons passed to Lost so far.
func (r *Recorder) LostReasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lost...)
}

// FirstAt is when the first record with key was emitted (zero if none).
func (r *Recorder) FirstAt(key []byte) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, rec := range r.recs {
		if string(rec.Key) == string(key) {
			return r.at[i]
		}
	}
	return time.Time{}
}
