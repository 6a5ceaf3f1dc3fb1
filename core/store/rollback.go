package store

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Rollback makes the configuration of the revision n commits ago (1 is
// the previous revision) running again, as a new revision: the history
// is append-only. It is validated like any commit, refused by a running
// lock held by another session, and ends a pending confirmed commit (the
// operator chose a configuration explicitly). Meta.Origin defaults to
// "rollback". A revision that was pruned gives ErrNoSuchRevision; one
// equal to running makes no revision.
func (s *Store) Rollback(ctx context.Context, session string, n int, meta Meta) (RevisionInfo, error) {
	if n < 1 {
		return RevisionInfo{}, fmt.Errorf("rollback %d: n must be 1 (the previous revision) or more: %w", n, ErrNoSuchRevision)
	}
	if err := s.begin(ctx); err != nil {
		return RevisionInfo{}, err
	}
	defer s.wmu.Unlock()
	if err := s.checkLocks(session, Running); err != nil {
		return RevisionInfo{}, fmt.Errorf("rollback: %w", err)
	}
	var (
		info   RevisionInfo
		target config
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRevisions).Cursor()
		k, _ := c.Seek(itob(s.runningInfo.ID))
		for i := 0; i < n && k != nil; i++ {
			k, _ = c.Prev()
		}
		if k == nil {
			return fmt.Errorf("rollback %d: the history does not go back that far: %w", n, ErrNoSuchRevision)
		}
		id, err := btoi(k)
		if err != nil {
			return fmt.Errorf("%w: revision key: %v", errCorrupt, err)
		}
		info, target, err = readRevision(tx, id)
		return err
	})
	if err != nil {
		return RevisionInfo{}, err
	}
	if meta.Origin == "" {
		meta.Origin = OriginRollback
	}
	if meta.Comment == "" {
		meta.Comment = fmt.Sprintf("rollback %d: configuration of revision %d", n, info.ID)
	}
	if bytes.Equal(target.json, s.running.json) {
		return s.runningInfoLocked(), nil
	}
	warnings, err := s.validate(target)
	if err != nil {
		return RevisionInfo{}, fmt.Errorf("rollback %d to revision %d: %w", n, info.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return RevisionInfo{}, err
	}
	return s.install(target, meta, warnings, nil, session)
}
