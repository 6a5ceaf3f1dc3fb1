package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// openTimeout bounds the wait for another process's lock on the file.
const openTimeout = 5 * time.Second

// Store is the candidate and running datastores of one unit.
type Store struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger

	// wmu serializes every change (commits, edits, locks, the confirm
	// timer); it is held across validation and the bbolt write.
	wmu sync.Mutex
	// mu guards the fields below for short reads; writers hold wmu too.
	mu          sync.Mutex
	closed      bool
	running     config
	runningInfo RevisionInfo
	candidate   config
	editor      string // session that changed the candidate last
	pending     *pendingState
	locks       [numDatastores]string
	timer       *time.Timer
	timerGen    uint64
	subs        map[uint64]chan RevisionInfo
	nextSub     uint64
}

// Open opens or creates the datastore file at path. A new file gets
// Options.Initial (or model.Default()) as revision 1 with origin
// "initial", after validation. When a confirmed commit was pending, a
// passed deadline rolls back before Open returns, otherwise the rollback
// timer is armed for the remaining time.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("open datastore %s: %w", path, err)
	}
	s := &Store{db: db, opts: opts, log: opts.Logger.With("component", "store"), subs: map[uint64]chan RevisionInfo{}}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open datastore %s: %w", path, err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.pending != nil {
		s.expireLocked()
	}
	return s, nil
}

// load creates the buckets and the initial revision if needed, then reads
// the running revision, the candidate and the pending state.
func (s *Store) load() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketRevisions, bucketCandidate} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketMeta).Get(keyRunning) != nil {
			return nil
		}
		return s.initialize(tx)
	})
	if err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		id, err := metaUint(tx, keyRunning)
		if err != nil {
			return err
		}
		info, run, err := readRevision(tx, id)
		if err != nil {
			return fmt.Errorf("running revision: %w", err)
		}
		s.running, s.runningInfo, s.candidate = run, info, run
		if s.pending, err = readPending(tx); err != nil {
			return err
		}
		rec, err := readCandidate(tx)
		if err != nil || rec == nil {
			return err
		}
		d, err := model.Decode(rec.Config)
		if err != nil {
			return fmt.Errorf("candidate: %w", err)
		}
		if s.candidate, err = canonical(d); err != nil {
			return fmt.Errorf("candidate: %w", err)
		}
		s.editor = rec.Editor
		return nil
	})
}

// initialize commits the initial configuration as revision 1.
func (s *Store) initialize(tx *bolt.Tx) error {
	d := s.opts.Initial
	if d == nil {
		d = model.Default()
	}
	c, err := canonical(d)
	if err != nil {
		return fmt.Errorf("initial configuration: %w", err)
	}
	warnings, err := s.opts.Validate(c.copyDevice())
	if err != nil {
		return fmt.Errorf("initial configuration is invalid: %w", err)
	}
	info := RevisionInfo{ID: 1, Time: s.now(), Origin: OriginInitial, Comment: "initial configuration", Warnings: warnings}
	return appendRevision(tx, info, c.json, s.opts.MaxRevisions, 0)
}

// Close stops the confirm timer, ends every subscription and closes the
// file. A pending confirmed commit stays pending on disk and is handled
// by the next Open.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.stopTimer()
	for id, ch := range s.subs {
		close(ch)
		delete(s.subs, id)
	}
	s.mu.Unlock()
	return s.db.Close()
}

// Running returns a copy of the running configuration and its revision.
func (s *Store) Running() (*tandem.Device, RevisionInfo) {
	s.mu.Lock()
	run, info := s.running, s.runningInfoLocked()
	s.mu.Unlock()
	return run.copyDevice(), info
}

// RunningID returns the running revision's id, without copying the
// configuration: for callers that follow the running configuration and
// read it again only when it changed.
func (s *Store) RunningID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningInfo.ID
}

// Candidate returns a copy of the candidate configuration. It equals
// running until it is edited.
func (s *Store) Candidate() *tandem.Device {
	s.mu.Lock()
	c := s.candidate
	s.mu.Unlock()
	return c.copyDevice()
}

// CandidateDirty reports whether the candidate differs from running.
func (s *Store) CandidateDirty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirtyLocked()
}

func (s *Store) dirtyLocked() bool { return !bytes.Equal(s.candidate.json, s.running.json) }

// runningInfoLocked is the running revision's info with PendingConfirm
// filled in. Needs mu or wmu.
func (s *Store) runningInfoLocked() RevisionInfo {
	info := s.runningInfo
	info.Warnings = append([]string(nil), info.Warnings...)
	info.PendingConfirm = s.pending.covers(info.ID)
	return info
}

func (s *Store) now() time.Time { return s.opts.Now().UTC().Round(0) }

// begin takes the write lock for a change and checks that the store is
// open and ctx not done. The caller must call s.wmu.Unlock.
func (s *Store) begin(ctx context.Context) error {
	s.wmu.Lock()
	if s.closed {
		s.wmu.Unlock()
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		s.wmu.Unlock()
		return err
	}
	return nil
}

// validate runs the validator on a copy of c.
func (s *Store) validate(c config) ([]string, error) {
	warnings, err := s.opts.Validate(c.copyDevice())
	if err != nil {
		return nil, fmt.Errorf("configuration is invalid, nothing was changed: %w", err)
	}
	return warnings, nil
}

var errNilDevice = errors.New("configuration is nil")
