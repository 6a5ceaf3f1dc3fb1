package store

import (
	"context"
	"errors"
	"fmt"
)

// Datastore names a datastore that can be locked.
type Datastore int

// The datastores.
const (
	// Running is the running configuration.
	Running Datastore = iota
	// Candidate is the shared candidate configuration.
	Candidate
	numDatastores
)

// String returns "running" or "candidate".
func (d Datastore) String() string {
	switch d {
	case Running:
		return "running"
	case Candidate:
		return "candidate"
	}
	return fmt.Sprintf("datastore(%d)", int(d))
}

func (d Datastore) valid() error {
	if d < 0 || d >= numDatastores {
		return fmt.Errorf("unknown datastore %d", int(d))
	}
	return nil
}

var errNoSession = errors.New("a lock needs a session id")

// Lock gives session the lock on ds: until Unlock or EndSession, other
// sessions cannot change it (candidate: edit, discard, commit; running:
// commit, update, rollback, cancel-commit). Locking again from the same
// session succeeds. A lock held by another session gives a *LockedError
// (errors.Is ErrLocked); the candidate cannot be locked while another
// session's changes in it are uncommitted (ErrCandidateModified).
func (s *Store) Lock(ds Datastore, session string) error {
	if err := ds.valid(); err != nil {
		return err
	}
	if session == "" {
		return errNoSession
	}
	if err := s.begin(context.Background()); err != nil {
		return err
	}
	defer s.wmu.Unlock()
	switch h := s.locks[ds]; {
	case h == session:
		return nil
	case h != "":
		return &LockedError{Datastore: ds, Holder: h}
	}
	if ds == Candidate && s.dirtyLocked() && s.editor != session {
		return fmt.Errorf("lock candidate: %w by session %q; commit or discard them first", ErrCandidateModified, s.editor)
	}
	s.mu.Lock()
	s.locks[ds] = session
	s.mu.Unlock()
	s.log.Info("locked", "datastore", ds.String(), "session", session)
	return nil
}

// Unlock releases session's lock on ds. Unlocking a datastore nobody
// locked gives ErrNotLocked; one locked by another session a
// *LockedError.
func (s *Store) Unlock(ds Datastore, session string) error {
	if err := ds.valid(); err != nil {
		return err
	}
	if err := s.begin(context.Background()); err != nil {
		return err
	}
	defer s.wmu.Unlock()
	switch h := s.locks[ds]; {
	case h == "":
		return fmt.Errorf("unlock %s: %w", ds, ErrNotLocked)
	case h != session:
		return &LockedError{Datastore: ds, Holder: h}
	}
	s.mu.Lock()
	s.locks[ds] = ""
	s.mu.Unlock()
	s.log.Info("unlocked", "datastore", ds.String(), "session", session)
	return nil
}

// EndSession releases every lock session holds. If it held the candidate
// lock and the candidate has changes, they are discarded (NETCONF
// semantics). Errors are logged.
func (s *Store) EndSession(session string) {
	if session == "" || s.begin(context.Background()) != nil {
		return
	}
	defer s.wmu.Unlock()
	heldCandidate := s.locks[Candidate] == session
	s.mu.Lock()
	for ds := range s.locks {
		if s.locks[ds] == session {
			s.locks[ds] = ""
		}
	}
	s.mu.Unlock()
	if heldCandidate && s.dirtyLocked() {
		if err := s.discardLocked(); err != nil {
			s.log.Error("discarding the candidate of an ended session failed", "session", session, "error", err)
			return
		}
		s.log.Info("discarded the candidate of an ended session", "session", session)
	}
}

// checkLocks returns a *LockedError when another session holds one of the
// given datastores. Needs wmu.
func (s *Store) checkLocks(session string, ds ...Datastore) error {
	for _, d := range ds {
		if h := s.locks[d]; h != "" && h != session {
			return &LockedError{Datastore: d, Holder: h}
		}
	}
	return nil
}
