package rest

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/northbound/service"
)

// The resources under ExtensionPrefix answer plain application/json (the
// shapes of the local API, which tandemctl prints), errors as
// ietf-restconf:errors like everything else.

func (s *Server) readable(c echo.Context) error {
	return principal(c).Check(auth.Read, c.Request().Method+" "+c.Request().URL.Path)
}

// status answers the unit summary of `tandemctl status`.
func (s *Server) status(c echo.Context) error {
	if err := s.readable(c); err != nil {
		return writeError(c, toError(err, ""))
	}
	return c.JSONPretty(http.StatusOK, s.b.Status(), "  ")
}

// haStatus answers the pair status of `tandemctl ha status`.
func (s *Server) haStatus(c echo.Context) error {
	if err := s.readable(c); err != nil {
		return writeError(c, toError(err, ""))
	}
	return c.JSONPretty(http.StatusOK, s.b.HA.Status(c.Request().Context()), "  ")
}

// history lists revisions, newest first (?limit=N, default 20).
func (s *Server) history(c echo.Context) error {
	if err := s.readable(c); err != nil {
		return writeError(c, toError(err, ""))
	}
	limit := 20
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return writeError(c, newError(http.StatusBadRequest, "invalid-value", "", "limit=%q: want a number of revisions, 0 for all", v))
		}
		limit = n
	}
	return c.JSONPretty(http.StatusOK, s.b.Store.History(limit), "  ")
}

// revision answers one revision's configuration, secrets removed.
func (s *Server) revision(c echo.Context) error {
	if err := s.readable(c); err != nil {
		return writeError(c, toError(err, ""))
	}
	d, err := service.Config(s.b.Store, c.Param("id"))
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	b, err := model.EncodeRedacted(d)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, mediaData, b)
}

// diff lists the leaves that differ between two configurations
// (?from=running&to=candidate by default).
func (s *Server) diff(c echo.Context) error {
	if err := s.readable(c); err != nil {
		return writeError(c, toError(err, ""))
	}
	from, to := c.QueryParam("from"), c.QueryParam("to")
	if from == "" {
		from = "running"
	}
	if to == "" {
		to = "candidate"
	}
	a, err := service.Config(s.b.Store, from)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	b, err := service.Config(s.b.Store, to)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	changes, err := model.Diff(a, b)
	if err != nil {
		return err
	}
	return c.JSONPretty(http.StatusOK, local.DiffResponse{From: from, To: to, Changes: changes}, "  ")
}

// events lists events after ?after=N (default: the newest ?limit=N, 50).
func (s *Server) events(c echo.Context) error {
	if err := s.readable(c); err != nil {
		return writeError(c, toError(err, ""))
	}
	after, _ := strconv.ParseUint(c.QueryParam("after"), 10, 64)
	limit, _ := strconv.Atoi(c.QueryParam("limit"))
	if limit <= 0 {
		limit = 50
	}
	var list []telemetry.Event
	if after > 0 {
		list = s.b.Events.List(after, limit)
	} else {
		list = s.b.Events.List(0, 0)
		if len(list) > limit {
			list = list[len(list)-limit:]
		}
	}
	if list == nil {
		list = []telemetry.Event{}
	}
	return c.JSONPretty(http.StatusOK, list, "  ")
}
