package rest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tandem-ha/tandem/northbound/rest/datatree"
	"github.com/tandem-ha/tandem/northbound/rest/rcpath"
)

// patchEdit is one edit of an RFC 8072 YANG patch.
type patchEdit struct {
	id        string
	operation string
	target    rcpath.Target
	value     any
	where     string
}

// editError is a failed edit of a YANG patch.
type editError struct {
	id  string
	err error
}

func (e *editError) Error() string { return fmt.Sprintf("edit %s: %v", e.id, e.err) }
func (e *editError) Unwrap() error { return e.err }

// parsePatch reads an ietf-yang-patch:yang-patch body whose edit targets
// are relative to base.
func (s *Server) parsePatch(base string, body any) (string, []patchEdit, error) {
	top, ok := body.(map[string]any)
	if !ok {
		return "", nil, newError(http.StatusBadRequest, "malformed-message", "", "a YANG patch body is {\"ietf-yang-patch:yang-patch\": {...}}")
	}
	p, ok := top["ietf-yang-patch:yang-patch"].(map[string]any)
	if !ok || len(top) != 1 {
		return "", nil, newError(http.StatusBadRequest, "malformed-message", "", "a YANG patch body is {\"ietf-yang-patch:yang-patch\": {\"patch-id\": ..., \"edit\": [...]}}")
	}
	id, _ := p["patch-id"].(string)
	if id == "" {
		return "", nil, newError(http.StatusBadRequest, "missing-element", "", "yang-patch: patch-id is mandatory")
	}
	list, ok := p["edit"].([]any)
	if !ok || len(list) == 0 {
		return id, nil, newError(http.StatusBadRequest, "missing-element", "", "yang-patch %s: no edit", id)
	}
	var out []patchEdit
	seen := map[string]bool{}
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return id, nil, newError(http.StatusBadRequest, "malformed-message", "", "yang-patch %s: edit %d is not an object", id, i)
		}
		e := patchEdit{}
		e.id, _ = m["edit-id"].(string)
		e.operation, _ = m["operation"].(string)
		target, _ := m["target"].(string)
		e.where, _ = m["where"].(string)
		if e.id == "" || seen[e.id] {
			return id, nil, newError(http.StatusBadRequest, "invalid-value", "", "yang-patch %s: edit %d needs a unique edit-id", id, i)
		}
		seen[e.id] = true
		if !strings.HasPrefix(target, "/") {
			return id, nil, &editError{id: e.id, err: newError(http.StatusBadRequest, "invalid-value", "", "target %q must start with /", target)}
		}
		raw := strings.TrimPrefix(base+target, "/")
		if base == "" {
			raw = target[1:]
		}
		t, err := rcpath.Parse(s.schema, raw)
		if err != nil {
			return id, nil, &editError{id: e.id, err: err}
		}
		if !t.Config() {
			return id, nil, &editError{id: e.id, err: newError(http.StatusBadRequest, "invalid-value", t.InstanceID(), "%s is state (config false)", t.InstanceID())}
		}
		e.target = t
		switch e.operation {
		case "create", "merge", "replace", "insert":
			v, ok := m["value"]
			if !ok {
				return id, nil, &editError{id: e.id, err: newError(http.StatusBadRequest, "missing-element", t.InstanceID(), "operation %s needs a value", e.operation)}
			}
			if e.value, err = datatree.Unwrap(t, v); err != nil {
				return id, nil, &editError{id: e.id, err: err}
			}
			if e.operation == "insert" && e.where != "" && e.where != "last" && e.where != "first" {
				return id, nil, &editError{id: e.id, err: newError(http.StatusBadRequest, "operation-not-supported", t.InstanceID(), "insert where=%s is not supported; use first or last", e.where)}
			}
		case "delete", "remove":
		case "move":
			return id, nil, &editError{id: e.id, err: newError(http.StatusBadRequest, "operation-not-supported", t.InstanceID(), "operation move is not supported; replace the list in the wanted order")}
		default:
			return id, nil, &editError{id: e.id, err: newError(http.StatusBadRequest, "invalid-value", t.InstanceID(), "operation %q: use create, delete, insert, merge, replace or remove", e.operation)}
		}
		out = append(out, e)
	}
	return id, out, nil
}

// apply runs one edit on doc.
func (s *Server) apply(doc datatree.Doc, e patchEdit) error {
	t := e.target
	switch e.operation {
	case "create", "insert":
		if datatree.Exists(doc, t) {
			return &datatree.Error{Path: t.InstanceID(), Tag: "data-exists", Msg: "already exists"}
		}
		if err := datatree.Replace(doc, t, e.value); err != nil {
			return err
		}
		if e.where == "first" {
			datatree.MoveFirst(doc, t)
		}
		return nil
	case "merge":
		return datatree.Merge(s.schema, doc, t, e.value)
	case "replace":
		return datatree.Replace(doc, t, e.value)
	case "delete":
		if !datatree.Remove(doc, t) {
			return &datatree.Error{Path: t.InstanceID(), Tag: "data-missing", Msg: "does not exist"}
		}
	case "remove":
		datatree.Remove(doc, t)
	}
	return nil
}

// yangPatch applies every edit of an RFC 8072 patch in one commit: all
// or nothing. The answer is ietf-yang-patch:yang-patch-status.
func (s *Server) yangPatch(c echo.Context, rq request, body any) error {
	base := rq.target.URL()
	id, edits, err := s.parsePatch(base, body)
	if err != nil {
		return s.patchFailed(c, id, err)
	}
	_, snap, err := s.commitEdit(c, rq.ds, describe(c)+" (yang-patch "+id+")", func(doc datatree.Doc) (bool, error) {
		for _, e := range edits {
			if err := s.apply(doc, e); err != nil {
				return false, &editError{id: e.id, err: err}
			}
		}
		return false, nil
	})
	if err != nil {
		return s.patchFailed(c, id, err)
	}
	s.setTags(c, snap)
	return writeData(c, http.StatusOK, map[string]any{"ietf-yang-patch:yang-patch-status": map[string]any{"patch-id": id, "ok": []any{nil}}})
}

// patchFailed answers a refused YANG patch: per-edit errors under
// edit-status, global ones (validation of the result, roles) under errors.
func (s *Server) patchFailed(c echo.Context, id string, err error) error {
	var ee *editError
	status := map[string]any{"patch-id": id}
	var e *Error
	if errors.As(err, &ee) {
		e = toError(ee.err, "")
		status["edit-status"] = map[string]any{"edit": []any{map[string]any{
			"edit-id": ee.id, "errors": map[string]any{"error": e.Entries},
		}}}
	} else {
		e = toError(err, "")
		status["errors"] = map[string]any{"error": e.Entries}
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	return writeData(c, e.Status, map[string]any{"ietf-yang-patch:yang-patch-status": status})
}
