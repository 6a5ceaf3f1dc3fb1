package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Confirm confirms the pending confirmed commit: its revisions stay
// running and the rollback timer stops. Without one it returns
// ErrNotPending. Subscribers get the running revision again, now with
// PendingConfirm false.
func (s *Store) Confirm(session string, meta Meta) error {
	if err := s.begin(context.Background()); err != nil {
		return err
	}
	defer s.wmu.Unlock()
	return s.confirmLocked(session, meta)
}

func (s *Store) confirmLocked(session string, meta Meta) error {
	if s.pending == nil {
		return ErrNotPending
	}
	p := s.pending
	if err := s.setPendingLocked(nil); err != nil {
		return err
	}
	s.mu.Lock()
	s.publishLocked(s.runningInfoLocked())
	s.mu.Unlock()
	s.log.Info("confirmed commit confirmed", "revision", p.Revision, "session", session, "author", meta.Author, "origin", meta.Origin)
	return nil
}

// CancelConfirmed rolls a pending confirmed commit back now (NETCONF
// <cancel-commit>): the configuration from before the first confirmed
// commit becomes running as a new revision. Meta.Origin defaults to
// "rollback". Without a pending commit it returns ErrNotPending; a running
// lock held by another session refuses it.
func (s *Store) CancelConfirmed(session string, meta Meta) (RevisionInfo, error) {
	if err := s.begin(context.Background()); err != nil {
		return RevisionInfo{}, err
	}
	defer s.wmu.Unlock()
	if err := s.checkLocks(session, Running); err != nil {
		return RevisionInfo{}, fmt.Errorf("cancel confirmed commit: %w", err)
	}
	if s.pending == nil {
		return RevisionInfo{}, ErrNotPending
	}
	if meta.Origin == "" {
		meta.Origin = OriginRollback
	}
	if meta.Comment == "" {
		meta.Comment = fmt.Sprintf("confirmed commit of revision %d cancelled; restored the configuration of revision %d", s.pending.Revision, s.pending.Target)
	}
	return s.restoreLocked(meta, session)
}

// restoreLocked makes the pending rollback target's configuration running
// as a new revision and clears the pending state. The target was running
// before, so a validation error does not stop the restore (getting back
// to a reachable configuration matters more): it is logged and kept as a
// warning. Needs wmu.
func (s *Store) restoreLocked(meta Meta, session string) (RevisionInfo, error) {
	p := s.pending
	var target config
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		_, target, err = readRevision(tx, p.Target)
		return err
	})
	if err != nil {
		return RevisionInfo{}, fmt.Errorf("restore revision %d: %w", p.Target, err)
	}
	if bytes.Equal(target.json, s.running.json) {
		if err := s.setPendingLocked(nil); err != nil {
			return RevisionInfo{}, err
		}
		s.log.Info("confirmed commit ended; running already equals its rollback target", "target", p.Target)
		return s.runningInfoLocked(), nil
	}
	warnings, verr := s.opts.Validate(target.copyDevice())
	if verr != nil {
		s.log.Warn("restoring a configuration that no longer validates", "target", p.Target, "error", verr)
		warnings = append(warnings, "restored although it no longer validates: "+verr.Error())
	}
	return s.install(target, meta, warnings, nil, session)
}

// setPendingLocked persists and installs a new pending state (nil: none)
// and arms or stops the timer. Needs wmu.
func (s *Store) setPendingLocked(p *pendingState) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return writePending(tx, p) }); err != nil {
		return fmt.Errorf("store pending confirmed commit: %w", err)
	}
	s.mu.Lock()
	s.pending = p
	s.mu.Unlock()
	if p != nil {
		s.armTimer()
	} else {
		s.stopTimer()
	}
	return nil
}

// armTimer (re)starts the rollback timer for the pending deadline. Needs
// wmu.
func (s *Store) armTimer() {
	s.stopTimer()
	gen := s.timerGen
	wait := max(s.pending.Deadline.Sub(s.now()), 0)
	s.timer = time.AfterFunc(wait, func() { s.onDeadline(gen) })
}

// stopTimer stops the rollback timer; a callback already running sees a
// new generation and does nothing. Needs wmu.
func (s *Store) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.timerGen++
}

// onDeadline runs when the timer of generation gen fires.
func (s *Store) onDeadline(gen uint64) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || gen != s.timerGen || s.pending == nil {
		return
	}
	s.expireLocked()
}

// expireLocked restores the rollback target once the deadline has passed,
// or re-arms the timer when the clock says it has not. Needs wmu.
func (s *Store) expireLocked() {
	p := s.pending
	if s.now().Before(p.Deadline) {
		s.armTimer()
		return
	}
	meta := Meta{
		Author:  "tandem",
		Origin:  OriginConfirmTimeout,
		Comment: fmt.Sprintf("revision %d was not confirmed before %s; restored the configuration of revision %d", p.Revision, p.Deadline.Format(time.RFC3339), p.Target),
	}
	s.log.Warn("confirmed commit not confirmed in time; rolling back", "revision", p.Revision, "target", p.Target, "deadline", p.Deadline)
	if _, err := s.restoreLocked(meta, ""); err != nil {
		s.log.Error("confirmed commit rollback failed; retrying in one second", "revision", p.Revision, "target", p.Target, "error", err)
		s.stopTimer()
		gen := s.timerGen
		s.timer = time.AfterFunc(time.Second, func() { s.onDeadline(gen) })
	}
}
