package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// CommitOptions modify a Commit.
type CommitOptions struct {
	// ConfirmTimeout, when positive, makes a confirmed commit: the new
	// revision runs at once, but unless Confirm (or a plain Commit)
	// follows within this time the previous configuration is restored.
	// Zero is a plain commit.
	ConfirmTimeout time.Duration
}

// Commit validates the candidate and makes it running as a new revision.
// The candidate and running datastores must not be locked by another
// session. A candidate equal to running makes no revision and returns the
// running revision's info. A validation failure changes nothing and
// returns the validator's error wrapped with %w.
//
// While a confirmed commit is pending, a plain Commit confirms it (with
// or without changes) and a confirmed Commit extends its deadline to
// now+ConfirmTimeout, keeping the original rollback target.
func (s *Store) Commit(ctx context.Context, session string, meta Meta, opts CommitOptions) (RevisionInfo, error) {
	if opts.ConfirmTimeout < 0 {
		return RevisionInfo{}, fmt.Errorf("commit: confirm timeout %v is negative", opts.ConfirmTimeout)
	}
	if err := s.begin(ctx); err != nil {
		return RevisionInfo{}, err
	}
	defer s.wmu.Unlock()
	if err := s.checkLocks(session, Candidate, Running); err != nil {
		return RevisionInfo{}, fmt.Errorf("commit: %w", err)
	}
	if !s.dirtyLocked() {
		switch {
		case s.pending != nil && opts.ConfirmTimeout == 0:
			if err := s.confirmLocked(session, meta); err != nil {
				return RevisionInfo{}, err
			}
		case s.pending != nil:
			p := *s.pending
			p.Deadline = s.now().Add(opts.ConfirmTimeout)
			if err := s.setPendingLocked(&p); err != nil {
				return RevisionInfo{}, err
			}
			s.log.Info("confirmed commit extended", "revision", p.Revision, "target", p.Target, "deadline", p.Deadline, "session", session, "author", meta.Author)
		}
		return s.runningInfoLocked(), nil
	}
	warnings, err := s.validate(s.candidate)
	if err != nil {
		return RevisionInfo{}, fmt.Errorf("commit: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return RevisionInfo{}, err
	}
	var p *pendingState
	if opts.ConfirmTimeout > 0 {
		p = &pendingState{Target: s.runningInfo.ID, Deadline: s.now().Add(opts.ConfirmTimeout)}
		if s.pending != nil {
			p.Target = s.pending.Target
		}
	}
	return s.install(s.candidate, meta, warnings, p, session)
}

// Update applies fn to a copy of running, validates the result and
// commits it as a new revision, atomically: no other change can come in
// between. It is the one-shot write of REST and gNMI. The shared
// candidate is left alone, except that a candidate without changes keeps
// following running. Only a running lock held by another session refuses
// it. A pending confirmed commit stays pending: Update does not confirm
// it, and its rollback would undo this change too.
func (s *Store) Update(ctx context.Context, session string, meta Meta, fn func(*tandem.Device) error) (RevisionInfo, error) {
	if err := s.begin(ctx); err != nil {
		return RevisionInfo{}, err
	}
	defer s.wmu.Unlock()
	if err := s.checkLocks(session, Running); err != nil {
		return RevisionInfo{}, fmt.Errorf("update: %w", err)
	}
	d := s.running.copyDevice()
	if err := fn(d); err != nil {
		return RevisionInfo{}, err
	}
	c, err := canonical(d)
	if err != nil {
		return RevisionInfo{}, fmt.Errorf("update: %w", err)
	}
	if bytes.Equal(c.json, s.running.json) {
		return s.runningInfoLocked(), nil
	}
	warnings, err := s.validate(c)
	if err != nil {
		return RevisionInfo{}, fmt.Errorf("update: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return RevisionInfo{}, err
	}
	return s.install(c, meta, warnings, s.pending, session)
}

// install makes cfg running as a new revision in one bbolt transaction,
// together with the new pending state p (nil: none) and the candidate: a
// candidate without changes follows running, a changed one stays (and is
// dropped from disk once it equals the new running). Needs wmu.
func (s *Store) install(cfg config, meta Meta, warnings []string, p *pendingState, session string) (RevisionInfo, error) {
	cand, editor := s.candidate, s.editor
	if !s.dirtyLocked() {
		cand = cfg
	}
	var candRec *candidateRecord
	if bytes.Equal(cand.json, cfg.json) {
		editor = ""
	} else {
		candRec = &candidateRecord{Editor: editor, Config: cand.json}
	}
	info := RevisionInfo{Time: s.now(), Author: meta.Author, Comment: meta.Comment, Origin: meta.Origin, Warnings: warnings}
	var newPending *pendingState
	if p != nil {
		cp := *p
		newPending = &cp
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		id, err := metaUint(tx, keyNext)
		if err != nil {
			return err
		}
		info.ID = id
		var keep uint64
		if newPending != nil {
			if newPending.Revision == 0 {
				newPending.Revision = id
			}
			keep = newPending.Target
		}
		if err := appendRevision(tx, info, cfg.json, s.opts.MaxRevisions, keep); err != nil {
			return err
		}
		if err := writePending(tx, newPending); err != nil {
			return err
		}
		return writeCandidate(tx, candRec)
	})
	if err != nil {
		return RevisionInfo{}, fmt.Errorf("store revision: %w", err)
	}
	s.mu.Lock()
	s.running, s.runningInfo = cfg, info
	s.candidate, s.editor = cand, editor
	s.pending = newPending
	out := s.runningInfoLocked()
	s.publishLocked(out)
	s.mu.Unlock()
	if newPending != nil {
		s.armTimer()
	} else {
		s.stopTimer()
	}
	s.log.Info("committed", "revision", info.ID, "origin", info.Origin, "author", info.Author, "session", session,
		"comment", info.Comment, "warnings", len(warnings), "pending_confirm", out.PendingConfirm)
	return out, nil
}
