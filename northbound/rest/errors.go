package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/rest/datatree"
	"github.com/tandem-ha/tandem/northbound/rest/rcpath"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
	"github.com/tandem-ha/tandem/northbound/service"
)

// ErrorsMember is the member of every error body (RFC 8040, 7.1).
const ErrorsMember = "ietf-restconf:errors"

// ErrorEntry is one error of an ietf-restconf:errors body.
type ErrorEntry struct {
	Type    string `json:"error-type"`
	Tag     string `json:"error-tag"`
	AppTag  string `json:"error-app-tag,omitempty"`
	Path    string `json:"error-path,omitempty"`
	Message string `json:"error-message"`
	// Info carries, for a validation issue, the SPEC rule and the fix.
	Info *ErrorInfo `json:"error-info,omitempty"`
}

// ErrorInfo is the error-info of a validation issue.
type ErrorInfo struct {
	Rule       string  `json:"rule,omitempty"`
	Fix        string  `json:"fix,omitempty"`
	RetryAfter float64 `json:"retry-after-seconds,omitempty"`
}

// ErrorBody is the ietf-restconf:errors document.
type ErrorBody struct {
	Errors struct {
		Error []ErrorEntry `json:"error"`
	} `json:"ietf-restconf:errors"`
}

// Error is an HTTP answer with a RESTCONF error body.
type Error struct {
	Status  int
	Entries []ErrorEntry
	Header  http.Header
}

func (e *Error) Error() string {
	if len(e.Entries) == 0 {
		return http.StatusText(e.Status)
	}
	return e.Entries[0].Message
}

// newError builds a one-entry error.
func newError(status int, tag, path, format string, args ...any) *Error {
	typ := "application"
	if tag == "malformed-message" || tag == "access-denied" && status == http.StatusUnauthorized {
		typ = "protocol"
	}
	return &Error{Status: status, Entries: []ErrorEntry{{Type: typ, Tag: tag, Path: path, Message: fmt.Sprintf(format, args...)}}}
}

// toError maps any error to its HTTP status and RESTCONF error entries:
// the kinds of service.KindOf, validation issues (one entry each, with
// rule and fix), path and data errors. path is the target's
// instance-identifier.
func toError(err error, path string) *Error {
	var (
		re      *Error
		pe      *rcpath.Error
		de      *datatree.Error
		issues  validate.Errors
		limited *auth.RateLimitedError
		he      *echo.HTTPError
	)
	switch {
	case errors.As(err, &re):
		return re
	case errors.As(err, &issues):
		out := &Error{Status: http.StatusBadRequest}
		s := schema.Must()
		for _, is := range issues {
			p := is.Path
			if t, err := rcpath.FromModelPath(s, is.Path); err == nil {
				p = t.InstanceID()
			}
			out.Entries = append(out.Entries, ErrorEntry{Type: "application", Tag: "invalid-value", AppTag: "tandem:" + is.Rule,
				Path: p, Message: is.Message, Info: &ErrorInfo{Rule: is.Rule, Fix: is.Fix}})
		}
		return out
	case errors.As(err, &pe):
		if pe.NotFound {
			return newError(http.StatusNotFound, "invalid-value", "", "%s", pe.Error())
		}
		return newError(http.StatusBadRequest, "invalid-value", "", "%s", pe.Error())
	case errors.As(err, &de):
		status := http.StatusBadRequest
		switch de.Tag {
		case "data-exists":
			status = http.StatusConflict
		case "data-missing":
			status = http.StatusNotFound
		}
		return newError(status, de.Tag, de.Path, "%s", de.Msg)
	case errors.As(err, &he):
		return newError(he.Code, httpTag(he.Code), "", "%v", he.Message)
	}
	msg := err.Error()
	switch service.KindOf(err) {
	case service.KindInvalid:
		return newError(http.StatusBadRequest, "invalid-value", path, "%s", msg)
	case service.KindUnauthenticated:
		e := newError(http.StatusUnauthorized, "access-denied", "", "%s", msg)
		e.Header = challenge()
		return e
	case service.KindForbidden:
		e := newError(http.StatusForbidden, "access-denied", path, "%s", msg)
		e.Entries[0].AppTag = "tandem:user-role"
		return e
	case service.KindRefused:
		e := newError(http.StatusForbidden, "access-denied", path, "%s", msg)
		e.Entries[0].AppTag = "tandem:ha-role"
		return e
	case service.KindNotFound:
		return newError(http.StatusNotFound, "invalid-value", path, "%s", msg)
	case service.KindConflict:
		return newError(http.StatusConflict, conflictTag(err), path, "%s", msg)
	case service.KindUnavailable:
		return newError(http.StatusServiceUnavailable, "resource-denied", path, "%s", msg)
	case service.KindRateLimited:
		e := newError(http.StatusTooManyRequests, "resource-denied", "", "%s", msg)
		if errors.As(err, &limited) {
			secs := int(limited.RetryAfter.Round(time.Second) / time.Second)
			if secs < 1 {
				secs = 1
			}
			e.Header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
			e.Entries[0].Info = &ErrorInfo{RetryAfter: float64(secs)}
		}
		return e
	}
	return newError(http.StatusInternalServerError, "operation-failed", path, "%s", msg)
}

func conflictTag(err error) string {
	if service.KindOf(err) == service.KindConflict && errors.Is(err, store.ErrLocked) {
		return "lock-denied"
	}
	return "resource-denied"
}

// httpTag is the error-tag for an HTTP status that echo itself answers.
func httpTag(code int) string {
	switch code {
	case http.StatusNotFound:
		return "invalid-value"
	case http.StatusMethodNotAllowed:
		return "operation-not-supported"
	case http.StatusRequestEntityTooLarge:
		return "too-big"
	case http.StatusUnsupportedMediaType:
		return "invalid-value"
	case http.StatusUnauthorized, http.StatusForbidden:
		return "access-denied"
	}
	return "operation-failed"
}

// challenge is the WWW-Authenticate header of a 401.
func challenge() http.Header {
	return http.Header{"Www-Authenticate": {`Basic realm="tandem", charset="UTF-8"`, `Bearer realm="tandem"`}}
}

// writeError sends e as an ietf-restconf:errors body.
func writeError(c echo.Context, e *Error) error {
	for k, vs := range e.Header {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	var body ErrorBody
	body.Errors.Error = e.Entries
	b, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		return err
	}
	if c.Request().Method == http.MethodHead {
		return c.NoContent(e.Status)
	}
	return c.Blob(e.Status, mediaData, append(b, '\n'))
}

// errorHandler renders every error echo sees, including its own 404 and
// 405, as ietf-restconf:errors.
func errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	_ = writeError(c, toError(err, ""))
}
