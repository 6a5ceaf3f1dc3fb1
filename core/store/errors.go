package store

import (
	"errors"
	"fmt"
)

var (
	// ErrLocked is matched (errors.Is) by every *LockedError: a datastore
	// is locked by another session.
	ErrLocked = errors.New("datastore is locked")
	// ErrNoSuchRevision means the requested revision does not exist or
	// has been pruned from the history.
	ErrNoSuchRevision = errors.New("no such revision")
	// ErrNotPending means there is no confirmed commit waiting for
	// confirmation.
	ErrNotPending = errors.New("no confirmed commit is pending")
	// ErrNotLocked means Unlock was called for a datastore nobody locked.
	ErrNotLocked = errors.New("datastore is not locked")
	// ErrCandidateModified means the candidate cannot be locked because
	// another session changed it and did not commit or discard
	// (RFC 6241, 7.5).
	ErrCandidateModified = errors.New("candidate has uncommitted changes")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store is closed")
)

// LockedError says which session holds the lock that refused an operation.
type LockedError struct {
	// Datastore is the locked datastore.
	Datastore Datastore
	// Holder is the session that holds the lock.
	Holder string
}

// Error names the datastore, the holder and what to do.
func (e *LockedError) Error() string {
	return fmt.Sprintf("%s datastore is locked by session %q; wait until it unlocks or ends that session", e.Datastore, e.Holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }
