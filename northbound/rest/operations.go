package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
	"github.com/tandem-ha/tandem/northbound/service"
)

// listOperations answers GET /restconf/operations (RFC 8040, 3.3.2).
func (s *Server) listOperations(c echo.Context) error {
	ops := map[string]any{}
	names := make([]string, 0, len(s.schema.RPCs))
	for name := range s.schema.RPCs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, n := range names {
		ops[schema.OperationsModule+":"+n] = []any{nil}
	}
	return writeData(c, http.StatusOK, map[string]any{"ietf-restconf:operations": ops})
}

// operate runs POST /restconf/operations/tandem-operations:NAME with an
// optional {"tandem-operations:input": {...}} body; the output comes back
// as {"tandem-operations:output": {...}}, or 204 when there is none.
func (s *Server) operate(c echo.Context) error {
	raw := c.Param("operation")
	name, err := url.PathUnescape(raw)
	if err != nil {
		return writeError(c, newError(http.StatusBadRequest, "invalid-value", "", "operation %q: %v", raw, err))
	}
	mod, op, ok := strings.Cut(name, ":")
	if !ok || mod != schema.OperationsModule || s.schema.RPCs[op] == nil {
		return writeError(c, newError(http.StatusNotFound, "invalid-value", "", "operation %q: no such rpc; GET /restconf/operations lists them (%s:NAME)", name, schema.OperationsModule))
	}
	if err := noWriteQuery(c); err != nil {
		return writeError(c, toError(err, ""))
	}
	var input json.RawMessage
	if c.Request().ContentLength != 0 {
		body, _, err := readBody(c, mediaData, echo.MIMEApplicationJSON)
		if err != nil {
			var e *Error
			if !(errors.As(err, &e) && e.Entries[0].Message == "the request has no body") {
				return writeError(c, toError(err, ""))
			}
		} else {
			obj, ok := body.(map[string]any)
			in, found := obj[schema.OperationsModule+":input"]
			if !ok || len(obj) != 1 || !found {
				return writeError(c, newError(http.StatusBadRequest, "malformed-message", "", "the body of %s is {\"%s:input\": {...}}", name, schema.OperationsModule))
			}
			if input, err = json.Marshal(in); err != nil {
				return err
			}
		}
	}
	out, err := s.b.Operate(c.Request().Context(), op, service.Call{
		Principal: principal(c), Session: session(c), Origin: store.OriginREST, Input: input,
	})
	if rep, ok := out.(validate.Report); ok {
		if err != nil {
			return writeError(c, toError(err, ""))
		}
		return writeData(c, http.StatusOK, map[string]any{schema.OperationsModule + ":output": map[string]any{"warnings": issues(rep.Warnings)}})
	}
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	if out == nil {
		return c.NoContent(http.StatusNoContent)
	}
	return writeData(c, http.StatusOK, map[string]any{schema.OperationsModule + ":output": out})
}

// issues renders validation issues with the member names of error-info.
func issues(in []validate.Issue) []map[string]string {
	out := make([]map[string]string, 0, len(in))
	for _, is := range in {
		out = append(out, map[string]string{"path": is.Path, "rule": is.Rule, "message": is.Message, "fix": is.Fix})
	}
	return out
}
