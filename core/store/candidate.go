package store

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// EditCandidate applies fn to a copy of the candidate and, when fn
// succeeds, stores the result as the new candidate (persisted). An error
// from fn is returned unchanged and leaves the candidate as it was. A
// candidate lock held by another session refuses the edit. State (config
// false) nodes set by fn are dropped.
func (s *Store) EditCandidate(session string, fn func(*tandem.Device) error) error {
	if err := s.begin(context.Background()); err != nil {
		return err
	}
	defer s.wmu.Unlock()
	if err := s.checkLocks(session, Candidate); err != nil {
		return fmt.Errorf("edit candidate: %w", err)
	}
	d := s.candidate.copyDevice()
	if err := fn(d); err != nil {
		return err
	}
	return s.setCandidateLocked(session, d)
}

// ReplaceCandidate makes a copy of d the candidate, like NETCONF
// <copy-config> to candidate.
func (s *Store) ReplaceCandidate(session string, d *tandem.Device) error {
	if d == nil {
		return fmt.Errorf("replace candidate: %w", errNilDevice)
	}
	if err := s.begin(context.Background()); err != nil {
		return err
	}
	defer s.wmu.Unlock()
	if err := s.checkLocks(session, Candidate); err != nil {
		return fmt.Errorf("replace candidate: %w", err)
	}
	return s.setCandidateLocked(session, d)
}

// Discard drops the candidate's changes: the candidate equals running
// again.
func (s *Store) Discard(session string) error {
	if err := s.begin(context.Background()); err != nil {
		return err
	}
	defer s.wmu.Unlock()
	if err := s.checkLocks(session, Candidate); err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	return s.discardLocked()
}

func (s *Store) discardLocked() error {
	if !s.dirtyLocked() {
		return nil
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return writeCandidate(tx, nil) }); err != nil {
		return fmt.Errorf("discard candidate: %w", err)
	}
	s.mu.Lock()
	s.candidate, s.editor = s.running, ""
	s.mu.Unlock()
	return nil
}

// setCandidateLocked canonicalizes d, persists it and makes it the
// candidate. Needs wmu.
func (s *Store) setCandidateLocked(session string, d *tandem.Device) error {
	c, err := canonical(d)
	if err != nil {
		return fmt.Errorf("candidate: %w", err)
	}
	var rec *candidateRecord
	editor := ""
	if !bytes.Equal(c.json, s.running.json) {
		editor = session
		rec = &candidateRecord{Editor: session, Config: c.json}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return writeCandidate(tx, rec) }); err != nil {
		return fmt.Errorf("store candidate: %w", err)
	}
	s.mu.Lock()
	s.candidate, s.editor = c, editor
	s.mu.Unlock()
	return nil
}
