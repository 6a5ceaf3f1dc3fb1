package service

import (
	"errors"
	"fmt"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/auth"
)

// Kind classifies an error for the northbound protocols, which map it to
// their own codes (HTTP status, NETCONF error-tag, gRPC code).
type Kind int

// The kinds of error.
const (
	// KindInternal is a failure of tandem itself.
	KindInternal Kind = iota
	// KindInvalid is bad input: a malformed value, a validation issue.
	KindInvalid
	// KindUnauthenticated is a missing or wrong credential.
	KindUnauthenticated
	// KindForbidden is a user role that does not allow the request.
	KindForbidden
	// KindRefused is an HA role that does not allow the request (CFG-1,
	// CLU-11).
	KindRefused
	// KindNotFound is an unknown node, revision or operation.
	KindNotFound
	// KindConflict is a lock held by another session, or a state that
	// does not allow the request (nothing pending, already exists).
	KindConflict
	// KindUnavailable is a peer or service that cannot be reached now.
	KindUnavailable
	// KindRateLimited is too many failed logins.
	KindRateLimited
)

// RefusedError is a request the unit's HA role does not allow.
type RefusedError struct {
	What   string
	Reason string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("%s refused: %s", e.What, e.Reason) }

// Error is an error with a Kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// KindOf classifies err.
func KindOf(err error) Kind {
	var (
		e         *Error
		forbidden *auth.ForbiddenError
		refused   *RefusedError
		limited   *auth.RateLimitedError
		issues    validate.Errors
		pathErr   *model.PathError
	)
	switch {
	case errors.As(err, &e):
		return e.Kind
	case errors.As(err, &forbidden):
		return KindForbidden
	case errors.As(err, &refused):
		return KindRefused
	case errors.As(err, &limited):
		return KindRateLimited
	case errors.Is(err, auth.ErrBadCredentials):
		return KindUnauthenticated
	case errors.As(err, &issues), errors.As(err, &pathErr):
		return KindInvalid
	case errors.Is(err, store.ErrLocked), errors.Is(err, store.ErrNotPending),
		errors.Is(err, store.ErrNotLocked), errors.Is(err, store.ErrCandidateModified):
		return KindConflict
	case errors.Is(err, store.ErrNoSuchRevision):
		return KindNotFound
	}
	return KindInternal
}
