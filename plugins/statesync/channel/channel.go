// Package channel is the contract between the state sync stream and the
// kinds of state it carries (connection tracking, IPsec SAs, conntrack
// expectations, DHCP leases, ...). Each kind is a channel: on the active
// unit its Source produces records, on the standby its Sink installs
// them. The stream numbers, batches, acknowledges and retransmits
// records without knowing what they mean.
package channel

import (
	"context"
	"errors"
	"fmt"
	"iter"
)

// Op is what a record does to the standby's copy.
type Op uint8

// The record operations.
const (
	// Upsert creates the entry or replaces it.
	Upsert Op = 1
	// Delete removes the entry; Value is empty.
	Delete Op = 2
)

// Record is one change to one entry of a channel.
type Record struct {
	Op Op
	// Key identifies the entry within its channel (for a connection: its
	// original tuple and zone). Records with the same key apply in
	// order; a later record supersedes an earlier one, which lets the
	// stream coalesce them.
	Key []byte
	// Value is the entry, encoded by the channel; empty for Delete.
	Value []byte
}

// Source produces a channel's records on the active unit.
type Source interface {
	// Name is the channel's name, the same on both units: "conntrack",
	// "xfrm", "expect", "dhcp", ...
	Name() string
	// Snapshot returns every current entry as Upsert records, for a bulk
	// sync (SYNC-7).
	Snapshot(ctx context.Context) ([]Record, error)
	// Watch calls emit for every change until ctx ends or it fails. It
	// calls lost when changes may have been missed (a netlink overrun):
	// the stream then counts the loss and starts a bulk sync.
	Watch(ctx context.Context, emit func(Record), lost func(reason string)) error
}

// Sink installs a channel's records on the standby unit.
type Sink interface {
	// Name is the channel's name, as its Source's.
	Name() string
	// Apply installs records in order. An error names the record that
	// failed; the stream counts it and carries on with the rest.
	Apply(ctx context.Context, records []Record) error
	// Replace makes the standby's entries exactly snapshot: entries not
	// in it are removed. Called at the end of a bulk sync.
	Replace(ctx context.Context, snapshot []Record) error
	// Count is how many entries the sink holds, for status.
	Count() int
}

// Latest yields the records a Sink applies of a batch, with their index:
// of several records with one key only the last, since it supersedes the
// others; in batch order.
func Latest(records []Record) iter.Seq2[int, Record] {
	return func(yield func(int, Record) bool) {
		last := make(map[string]int, len(records))
		for i, r := range records {
			last[string(r.Key)] = i
		}
		for i, r := range records {
			if last[string(r.Key)] == i && !yield(i, r) {
				return
			}
		}
	}
}

// JoinErrors joins the errors of the records a Sink could not install
// under prefix ("conntrack apply"), listing at most ten: nil when errs is
// empty.
func JoinErrors(prefix string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	shown := errs[:min(len(errs), 10)]
	err := fmt.Errorf("%s: %d failed: %w", prefix, len(errs), errors.Join(shown...))
	if len(errs) > len(shown) {
		err = fmt.Errorf("%w (and %d more)", err, len(errs)-len(shown))
	}
	return err
}
