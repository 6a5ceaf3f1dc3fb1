package store

import (
	bolt "go.etcd.io/bbolt"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// History lists up to limit revisions, newest first (limit <= 0: all that
// are kept). A record that does not decode is logged and skipped.
func (s *Store) History(limit int) []RevisionInfo {
	if s.isClosed() {
		return nil
	}
	var out []RevisionInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		p, err := readPending(tx)
		if err != nil {
			return err
		}
		c := tx.Bucket(bucketRevisions).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			info, _, err := decodeRecordInfo(v)
			if err != nil {
				s.log.Error("skipping unreadable revision record", "key", k, "error", err)
				continue
			}
			info.PendingConfirm = p.covers(info.ID)
			out = append(out, info)
		}
		return nil
	})
	if err != nil {
		s.log.Error("read history", "error", err)
	}
	return out
}

// Revision returns the configuration and info of revision id, or
// ErrNoSuchRevision when it does not exist or was pruned.
func (s *Store) Revision(id uint64) (*tandem.Device, RevisionInfo, error) {
	if s.isClosed() {
		return nil, RevisionInfo{}, ErrClosed
	}
	var (
		info RevisionInfo
		cfg  config
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		p, err := readPending(tx)
		if err != nil {
			return err
		}
		info, cfg, err = readRevision(tx, id)
		info.PendingConfirm = p.covers(info.ID)
		return err
	})
	if err != nil {
		return nil, RevisionInfo{}, err
	}
	return cfg.dev, info, nil
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
