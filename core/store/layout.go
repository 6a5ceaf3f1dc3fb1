package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bbolt layout.
//
//	meta       running -> uint64 (big endian): id of the running revision
//	           next    -> uint64: id the next revision gets
//	           pending -> JSON pendingState, absent when nothing is pending
//	revisions  uint64 id -> JSON record (info + RFC 7951 configuration)
//	candidate  config  -> JSON candidateRecord, absent while the candidate
//	                      equals running
var (
	bucketMeta      = []byte("meta")
	bucketRevisions = []byte("revisions")
	bucketCandidate = []byte("candidate")

	keyRunning   = []byte("running")
	keyNext      = []byte("next")
	keyPending   = []byte("pending")
	keyCandidate = []byte("config")
)

// pendingState is a confirmed commit waiting for confirmation.
type pendingState struct {
	// Revision is the latest confirmed commit (the one named when it
	// times out).
	Revision uint64 `json:"revision"`
	// Target is the revision whose configuration is restored on timeout:
	// the running revision before the first confirmed commit.
	Target uint64 `json:"target"`
	// Deadline is when the rollback happens.
	Deadline time.Time `json:"deadline"`
}

// covers reports whether revision id would be undone by this pending
// confirmed commit.
func (p *pendingState) covers(id uint64) bool { return p != nil && id > p.Target }

// candidateRecord is a candidate that differs from running.
type candidateRecord struct {
	// Editor is the session that changed it last.
	Editor string          `json:"editor"`
	Config json.RawMessage `json:"config"`
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("stored counter has %d bytes, want 8", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// errCorrupt marks data in the database that does not parse.
var errCorrupt = errors.New("store database is corrupt")

func metaUint(tx *bolt.Tx, key []byte) (uint64, error) {
	v := tx.Bucket(bucketMeta).Get(key)
	if v == nil {
		return 0, fmt.Errorf("%w: meta/%s missing", errCorrupt, key)
	}
	n, err := btoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: meta/%s: %v", errCorrupt, key, err)
	}
	return n, nil
}

func readPending(tx *bolt.Tx) (*pendingState, error) {
	v := tx.Bucket(bucketMeta).Get(keyPending)
	if v == nil {
		return nil, nil
	}
	var p pendingState
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, fmt.Errorf("%w: meta/pending: %v", errCorrupt, err)
	}
	return &p, nil
}

func writePending(tx *bolt.Tx, p *pendingState) error {
	b := tx.Bucket(bucketMeta)
	if p == nil {
		return b.Delete(keyPending)
	}
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return b.Put(keyPending, v)
}

// readRevision loads and decodes revision id.
func readRevision(tx *bolt.Tx, id uint64) (RevisionInfo, config, error) {
	v := tx.Bucket(bucketRevisions).Get(itob(id))
	if v == nil {
		return RevisionInfo{}, config{}, fmt.Errorf("revision %d: %w", id, ErrNoSuchRevision)
	}
	return decodeRecord(v)
}

func readCandidate(tx *bolt.Tx) (*candidateRecord, error) {
	v := tx.Bucket(bucketCandidate).Get(keyCandidate)
	if v == nil {
		return nil, nil
	}
	var c candidateRecord
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("%w: candidate: %v", errCorrupt, err)
	}
	return &c, nil
}

// writeCandidate stores the candidate, or deletes it when it equals
// running (rec nil).
func writeCandidate(tx *bolt.Tx, rec *candidateRecord) error {
	b := tx.Bucket(bucketCandidate)
	if rec == nil {
		return b.Delete(keyCandidate)
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode candidate: %w", err)
	}
	return b.Put(keyCandidate, v)
}

// appendRevision stores a new revision, points running at it, advances
// the id counter and prunes the history to max revisions, keeping keep
// (a pending rollback target, 0 for none). All in the caller's
// transaction.
func appendRevision(tx *bolt.Tx, info RevisionInfo, cfg []byte, max int, keep uint64) error {
	rec, err := encodeRecord(info, cfg)
	if err != nil {
		return err
	}
	revs := tx.Bucket(bucketRevisions)
	if err := revs.Put(itob(info.ID), rec); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyRunning, itob(info.ID)); err != nil {
		return err
	}
	if err := meta.Put(keyNext, itob(info.ID+1)); err != nil {
		return err
	}
	if info.ID <= uint64(max) {
		return nil
	}
	// Ids are consecutive, so the newest max revisions are those above
	// limit; collect first, since deleting under a cursor skips keys.
	limit := info.ID - uint64(max)
	var old [][]byte
	c := revs.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		id, err := btoi(k)
		if err != nil || id > limit {
			break
		}
		if id != keep {
			old = append(old, itob(id))
		}
	}
	for _, k := range old {
		if err := revs.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
