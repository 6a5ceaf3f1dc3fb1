package netconf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/netconf/edit"
	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
	"github.com/tandem-ha/tandem/northbound/service"
)

// rpcError is one <rpc-error> (RFC 6241 section 4.3).
type rpcError struct {
	Type     string // transport, rpc, protocol, application
	Tag      string
	Severity string // error (default) or warning
	AppTag   string
	Path     string // XPath of the offending node
	PathNS   map[string]string
	Message  string
	Info     [][2]string // error-info children: name, value
}

func (e *rpcError) Error() string { return e.Tag + ": " + e.Message }

// errorList is the errors of one reply; it is an error itself so that
// operations can return several.
type errorList []*rpcError

func (l errorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func protoErr(tag, format string, args ...any) *rpcError {
	return &rpcError{Type: "protocol", Tag: tag, Message: fmt.Sprintf(format, args...)}
}

func appErr(tag, format string, args ...any) *rpcError {
	return &rpcError{Type: "application", Tag: tag, Message: fmt.Sprintf(format, args...)}
}

// missingElement is the error for a mandatory parameter that is absent.
func missingElement(op, name string) *rpcError {
	e := protoErr("missing-element", "%s: parameter <%s> is missing", op, name)
	e.Info = [][2]string{{"bad-element", name}}
	return e
}

// badElement is the error for a parameter with a wrong value.
func badElement(name, format string, args ...any) *rpcError {
	e := protoErr("invalid-value", format, args...)
	e.Info = [][2]string{{"bad-element", name}}
	return e
}

// toRPCErrors maps any error of an operation to rpc-errors. lockOp is
// set for <lock>, where a held lock is lock-denied rather than in-use.
// sessionOf names the NETCONF session id of a store session ("0" when
// another API holds it).
func (s *Server) toRPCErrors(err error, lockOp bool, sessionOf func(string) string) errorList {
	var (
		list    errorList
		one     *rpcError
		issues  validate.Errors
		pathErr *model.PathError
		xmlErr  *xmltree.Error
		editErr *edit.Error
		locked  *store.LockedError
		refused *service.RefusedError
	)
	switch {
	case errors.As(err, &list):
		return list
	case errors.As(err, &one):
		return errorList{one}
	case errors.As(err, &issues):
		out := make(errorList, 0, len(issues))
		for _, is := range issues {
			e := appErr("invalid-value", "%s: %s; fix: %s", is.Rule, is.Message, is.Fix)
			e.AppTag = is.Rule
			e.Path, e.PathNS = s.schema.XPath(is.Path)
			out = append(out, e)
		}
		return out
	case errors.As(err, &pathErr):
		e := appErr("invalid-value", "%s", pathErr.Msg)
		e.AppTag = "YANG"
		e.Path, e.PathNS = s.schema.XPath(pathErr.Path)
		return errorList{e}
	case errors.As(err, &xmlErr):
		typ := "application"
		if xmlErr.Tag == "unknown-namespace" || xmlErr.Tag == "bad-attribute" || xmlErr.Tag == "unknown-attribute" {
			typ = "protocol"
		}
		e := &rpcError{Type: typ, Tag: xmlErr.Tag, Message: xmlErr.Error()}
		e.Path, e.PathNS = s.schema.XPath(xmlErr.Path)
		switch xmlErr.Tag {
		case "bad-attribute", "unknown-attribute":
			e.Info = [][2]string{{"bad-attribute", xmlErr.Element}, {"bad-element", lastElem(xmlErr.Path)}}
		case "unknown-namespace":
			e.Info = [][2]string{{"bad-element", xmlErr.Element}}
		default:
			e.Info = [][2]string{{"bad-element", xmlErr.Element}}
		}
		return errorList{e}
	case errors.As(err, &editErr):
		e := appErr(editErr.Tag, "%s", editErr.Error())
		e.Path, e.PathNS = s.schema.XPath(editErr.DataPath())
		return errorList{e}
	case errors.As(err, &locked):
		tag := "in-use"
		if lockOp {
			tag = "lock-denied"
		}
		e := protoErr(tag, "%s", locked.Error())
		e.Info = [][2]string{{"session-id", sessionOf(locked.Holder)}}
		return errorList{e}
	case errors.Is(err, store.ErrCandidateModified):
		e := protoErr("lock-denied", "%s", err.Error())
		e.Info = [][2]string{{"session-id", "0"}}
		return errorList{e}
	case errors.As(err, &refused):
		e := appErr("access-denied", "%s", err.Error())
		e.AppTag = "CFG-1"
		if !strings.HasPrefix(refused.What, "netconf") {
			e.AppTag = "CLU-11"
		}
		return errorList{e}
	}
	switch service.KindOf(err) {
	case service.KindInvalid:
		return errorList{appErr("invalid-value", "%s", err.Error())}
	case service.KindUnauthenticated, service.KindForbidden:
		return errorList{appErr("access-denied", "%s", err.Error())}
	case service.KindRefused:
		return errorList{appErr("access-denied", "%s", err.Error())}
	case service.KindNotFound:
		return errorList{appErr("data-missing", "%s", err.Error())}
	case service.KindConflict:
		if errors.Is(err, store.ErrNotPending) || errors.Is(err, store.ErrNotLocked) {
			return errorList{appErr("operation-failed", "%s", err.Error())}
		}
		return errorList{appErr("in-use", "%s", err.Error())}
	case service.KindRateLimited:
		return errorList{appErr("resource-denied", "%s", err.Error())}
	}
	return errorList{appErr("operation-failed", "%s", err.Error())}
}

func lastElem(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// writeRPCError renders e into w.
func writeRPCError(w *xmltree.Writer, e *rpcError) {
	w.Start(baseNS, "rpc-error")
	w.Leaf(baseNS, "error-type", e.Type)
	w.Leaf(baseNS, "error-tag", e.Tag)
	sev := e.Severity
	if sev == "" {
		sev = "error"
	}
	w.Leaf(baseNS, "error-severity", sev)
	if e.AppTag != "" {
		w.Leaf(baseNS, "error-app-tag", e.AppTag)
	}
	if e.Path != "" {
		w.StartDecl(baseNS, "error-path", e.PathNS)
		w.Text(e.Path)
		w.End()
	}
	if e.Message != "" {
		w.Start(baseNS, "error-message", xmlLang)
		w.Text(e.Message)
		w.End()
	}
	if len(e.Info) > 0 {
		w.Start(baseNS, "error-info")
		for _, kv := range e.Info {
			w.Leaf(baseNS, kv[0], kv[1])
		}
		w.End()
	}
	w.End()
}
