package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openconfig/gnmi/ctree"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/tandem-ha/tandem/core/telemetry"
)

// keepAlive is how often an idle stream sends an SSE comment, so that
// proxies and clients see the connection alive.
const keepAlive = 15 * time.Second

// stateBuffer is how many state changes a slow stream may fall behind
// before it is ended (the client reconnects and reads the state again).
const stateBuffer = 1024

// listStreams lists the notification streams.
func (s *Server) listStreams(c echo.Context) error {
	return writeData(c, http.StatusOK, map[string]any{"streams": []any{
		map[string]any{"name": "events", "description": "the HA event log (OBS-2): every event as it is appended; Last-Event-ID or ?start-after=SEQ replays from there", "location": "/restconf/streams/events"},
		map[string]any{"name": "state", "description": "every change of the state tree; ?path=PREFIX filters by path", "location": "/restconf/streams/state"},
	}})
}

// sse prepares an event-stream response.
func sse(c echo.Context) (*echo.Response, error) {
	w := c.Response()
	if _, ok := w.Writer.(http.Flusher); !ok {
		return nil, newError(http.StatusInternalServerError, "operation-failed", "", "streaming is not supported on this connection")
	}
	h := w.Header()
	h.Set(echo.HeaderContentType, mediaEventSSE)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Flush()
	return w, nil
}

// notification wraps a payload as RFC 8040 JSON notification data.
func notification(when time.Time, member string, payload any) ([]byte, error) {
	return json.Marshal(map[string]any{"ietf-restconf:notification": map[string]any{
		"eventTime": when.UTC().Format(time.RFC3339Nano), member: payload,
	}})
}

// eventStream streams the HA event log as server-sent events, each with
// its sequence number as the SSE id, so a reconnecting client (Last-Event-ID)
// misses nothing the log still holds.
func (s *Server) eventStream(c echo.Context) error {
	var after uint64
	for k, v := range c.QueryParams() {
		if k != "start-after" || len(v) != 1 {
			return writeError(c, newError(http.StatusBadRequest, "invalid-value", "", "query parameter %q: the events stream takes start-after=SEQ", k))
		}
		n, err := strconv.ParseUint(v[0], 10, 64)
		if err != nil {
			return writeError(c, newError(http.StatusBadRequest, "invalid-value", "", "start-after=%q: want an event sequence number", v[0]))
		}
		after = n
	}
	if id := c.Request().Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return writeError(c, newError(http.StatusBadRequest, "invalid-value", "", "Last-Event-ID %q: want an event sequence number", id))
		}
		after = n
	}
	replay := c.QueryParams().Has("start-after") || c.Request().Header.Get("Last-Event-ID") != ""
	// Subscribe before replaying so nothing falls in between.
	ch, cancel := s.b.Events.Subscribe()
	defer cancel()
	w, err := sse(c)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	send := func(e telemetry.Event) error {
		data, err := notification(e.Time, "tandem-system:event", e)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.Seq, data); err != nil {
			return err
		}
		after = e.Seq
		return nil
	}
	if replay {
		for _, e := range s.b.Events.List(after, 0) {
			if err := send(e); err != nil {
				return nil
			}
		}
	}
	w.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case e, ok := <-ch:
			if !ok {
				// Dropped for falling behind: say so; the client
				// reconnects with Last-Event-ID and catches up.
				fmt.Fprint(w, "event: overflow\ndata: {}\n\n")
				w.Flush()
				return nil
			}
			if e.Seq <= after && replay {
				continue
			}
			if err := send(e); err != nil {
				return nil
			}
			w.Flush()
		}
	}
}

// stateChange is one update or delete of the state tree.
type stateChange struct {
	Path    string `json:"path"`
	Value   any    `json:"value,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	time    time.Time
}

// stateStream streams state tree changes as server-sent events:
// {"ietf-restconf:notification": {"eventTime": ..., "tandem:state-change":
// {"path": ..., "value": ...}}}. ?path=PREFIX keeps changes at or below
// the prefix (a core/model path such as /ha/state).
func (s *Server) stateStream(c echo.Context) error {
	prefix := ""
	for k, v := range c.QueryParams() {
		if k != "path" || len(v) != 1 {
			return writeError(c, newError(http.StatusBadRequest, "invalid-value", "", "query parameter %q: the state stream takes path=PREFIX", k))
		}
		prefix = strings.TrimSuffix(v[0], "/")
	}
	ch := make(chan stateChange, stateBuffer)
	overflow := make(chan struct{})
	closed := false
	remove := s.b.Tree.AddClient(func(l *ctree.Leaf) {
		n, ok := l.Value().(*gpb.Notification)
		if !ok || closed {
			return
		}
		when := time.Unix(0, n.GetTimestamp())
		var out []stateChange
		for _, u := range n.GetUpdate() {
			p, err := ygot.PathToString(u.GetPath())
			if err == nil {
				out = append(out, stateChange{Path: p, Value: telemetry.FromTyped(u.GetVal()), time: when})
			}
		}
		for _, d := range n.GetDelete() {
			p, err := ygot.PathToString(d)
			if err == nil {
				out = append(out, stateChange{Path: p, Deleted: true, time: when})
			}
		}
		for _, sc := range out {
			if prefix != "" && sc.Path != prefix && !strings.HasPrefix(sc.Path, prefix+"/") && !strings.HasPrefix(sc.Path, prefix+"[") {
				continue
			}
			select {
			case ch <- sc:
			default:
				closed = true
				close(overflow)
				return
			}
		}
	})
	defer remove()
	w, err := sse(c)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-overflow:
			fmt.Fprint(w, "event: overflow\ndata: {}\n\n")
			w.Flush()
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case sc := <-ch:
			data, err := notification(sc.time, "tandem:state-change", sc)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
				return nil
			}
			w.Flush()
		}
	}
}
