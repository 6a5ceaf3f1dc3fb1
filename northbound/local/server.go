package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/northbound/service"
)

// maxBody bounds every request body.
const maxBody = 4 << 20

// Server is the local API server.
type Server struct {
	deps *service.Backend
	mux  *http.ServeMux
}

// NewServer returns a server for deps.
func NewServer(deps *service.Backend) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	s := &Server{deps: deps, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/status", s.status)
	s.mux.HandleFunc("GET /v1/config", s.getConfig)
	s.mux.HandleFunc("PUT /v1/config/candidate", s.replaceCandidate)
	s.mux.HandleFunc("POST /v1/config/set", s.set)
	s.mux.HandleFunc("POST /v1/config/delete", s.delete)
	s.mux.HandleFunc("POST /v1/config/commit", s.commit)
	s.mux.HandleFunc("POST /v1/config/confirm", s.confirm)
	s.mux.HandleFunc("POST /v1/config/discard", s.discard)
	s.mux.HandleFunc("POST /v1/config/rollback", s.rollback)
	s.mux.HandleFunc("POST /v1/config/validate", s.validate)
	s.mux.HandleFunc("GET /v1/config/diff", s.diff)
	s.mux.HandleFunc("GET /v1/config/history", s.history)
	s.mux.HandleFunc("GET /v1/state", s.state)
	s.mux.HandleFunc("GET /v1/events", s.events)
	s.mux.HandleFunc("GET /v1/ha", s.haStatus)
	s.mux.HandleFunc("POST /v1/ha/{command}", s.haAdmin)
	s.mux.HandleFunc("POST /v1/ha/sync-settings", s.syncSettings)
	s.mux.HandleFunc("POST /v1/ha/sync-firmware", s.syncFirmware)
	s.mux.HandleFunc("GET /v1/ha/sync-test", s.syncTest)
	s.mux.HandleFunc("GET /v1/ha/diff", s.haDiff)
	s.mux.HandleFunc("POST /v1/ha/join", s.haJoin)
	s.mux.HandleFunc("POST /v1/firmware/upgrade", s.upgrade)
	return s
}

// Handler returns the HTTP handler, for tests.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve listens on the unix socket at path (mode 0660) until ctx ends.
func (s *Server) Serve(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("local API socket directory: %w", err)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("local API: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return fmt.Errorf("local API socket permissions: %w", err)
	}
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       withPeer,
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

type peerKey struct{}

// withPeer records the calling Unix user of a connection.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *syscall.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cred == nil {
		return ctx
	}
	name := strconv.Itoa(int(cred.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return context.WithValue(ctx, peerKey{}, name)
}

// author names the caller: the Unix user of the socket peer.
func author(r *http.Request) string {
	if name, ok := r.Context().Value(peerKey{}).(string); ok {
		return name
	}
	return "local"
}

// session is the datastore session of the local API: one per user.
func session(r *http.Request) string { return "cli:" + author(r) }

func (s *Server) meta(r *http.Request, comment string) store.Meta {
	return store.Meta{Author: author(r), Comment: comment, Origin: "cli"}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.deps.Status())
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	var d *tandem.Device
	switch ds := r.URL.Query().Get("datastore"); ds {
	case "", "running":
		d, _ = s.deps.Store.Running()
	case "candidate":
		d = s.deps.Store.Candidate()
	default:
		if id, err := strconv.ParseUint(ds, 10, 64); err == nil {
			var rerr error
			if d, _, rerr = s.deps.Store.Revision(id); rerr != nil {
				writeError(w, http.StatusNotFound, rerr)
				return
			}
			break
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("datastore %q: use running, candidate or a revision number", ds))
		return
	}
	b, err := model.EncodeRedacted(d)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/yang-data+json")
	_, _ = w.Write(b)
}

func (s *Server) replaceCandidate(w http.ResponseWriter, r *http.Request) {
	if !s.configurable(w) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err)
		return
	}
	d, err := model.Decode(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.editResult(w, s.deps.Store.ReplaceCandidate(session(r), d))
}

func (s *Server) set(w http.ResponseWriter, r *http.Request) {
	if !s.configurable(w) {
		return
	}
	var req SetRequest
	if !readJSON(w, r, &req) {
		return
	}
	s.editResult(w, s.deps.Store.EditCandidate(session(r), func(d *tandem.Device) error {
		return model.Set(d, req.Path, req.Value)
	}))
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	if !s.configurable(w) {
		return
	}
	var req DeleteRequest
	if !readJSON(w, r, &req) {
		return
	}
	s.editResult(w, s.deps.Store.EditCandidate(session(r), func(d *tandem.Device) error {
		return model.Delete(d, req.Path)
	}))
}

func (s *Server) editResult(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) commit(w http.ResponseWriter, r *http.Request) {
	if !s.configurable(w) {
		return
	}
	var req CommitRequest
	if !readJSON(w, r, &req) {
		return
	}
	var opts store.CommitOptions
	if req.ConfirmTimeout != "" {
		d, err := time.ParseDuration(req.ConfirmTimeout)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("confirm_timeout %q: want a positive duration such as 2m", req.ConfirmTimeout))
			return
		}
		opts.ConfirmTimeout = d
	}
	info, err := s.deps.Store.Commit(r.Context(), session(r), s.meta(r, req.Comment), opts)
	s.revisionResult(w, info, err)
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	if !s.configurable(w) {
		return
	}
	s.editResult(w, s.deps.Store.Confirm(session(r), s.meta(r, "confirmed")))
}

func (s *Server) discard(w http.ResponseWriter, r *http.Request) {
	s.editResult(w, s.deps.Store.Discard(session(r)))
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	if !s.configurable(w) {
		return
	}
	var req RollbackRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.N < 1 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("n is %d: count revisions back from running, 1 or more", req.N))
		return
	}
	meta := s.meta(r, req.Comment)
	meta.Origin = "rollback"
	info, err := s.deps.Store.Rollback(r.Context(), session(r), req.N, meta)
	s.revisionResult(w, info, err)
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	rep := validate.Validate(s.deps.Store.Candidate())
	code := http.StatusOK
	if len(rep.Errors) > 0 {
		code = http.StatusBadRequest
	}
	writeJSON(w, code, rep)
}

func (s *Server) revisionResult(w http.ResponseWriter, info store.RevisionInfo, err error) {
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) diff(w http.ResponseWriter, r *http.Request) {
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	if from == "" {
		from = "running"
	}
	if to == "" {
		to = "candidate"
	}
	a, err := service.Config(s.deps.Store, from)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	b, err := service.Config(s.deps.Store, to)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	changes, err := model.Diff(a, b)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, DiffResponse{From: from, To: to, Changes: changes})
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 20
	}
	writeJSON(w, http.StatusOK, s.deps.Store.History(limit))
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("path")
	if prefix == "" {
		prefix = "/"
	}
	b, err := s.deps.Tree.JSON(prefix)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	w.Header().Set("Content-Type", "application/yang-data+json")
	_, _ = w.Write(b)
}

// events lists events after ?after=N (default: the last ?limit), or with
// ?follow=true streams them as newline-delimited JSON until the client
// goes away.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, _ := strconv.ParseUint(q.Get("after"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 50
	}
	if q.Get("follow") != "true" {
		writeJSON(w, http.StatusOK, s.recentEvents(after, limit))
		return
	}
	// Subscribe before listing so nothing falls between the two.
	ch, cancel := s.deps.Events.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	var last uint64
	for _, e := range s.recentEvents(after, limit) {
		_ = enc.Encode(e)
		last = e.Seq
	}
	if flusher != nil {
		flusher.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			if e.Seq <= last {
				continue
			}
			if err := enc.Encode(e); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

func (s *Server) haStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.deps.HA.Status(r.Context()))
}

// haAdmin runs force-active, force-standby, reset or failover (ROLE-4).
func (s *Server) haAdmin(w http.ResponseWriter, r *http.Request) {
	cmd := fsm.Command(r.PathValue("command"))
	if !slices.Contains(ha.Commands, cmd) {
		writeError(w, http.StatusNotFound, fmt.Errorf("ha command %q: use force-active, force-standby, reset or failover", cmd))
		return
	}
	if st := s.deps.HA.Status(r.Context()); !st.Running {
		writeError(w, http.StatusConflict, fmt.Errorf("ha %s: the HA pair is not running (%s)", cmd, st.Reason))
		return
	}
	if err := s.deps.HA.Admin(cmd); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// syncSettings pushes the whole configuration to the standby (CFG-3).
func (s *Server) syncSettings(w http.ResponseWriter, r *http.Request) {
	out, err := s.deps.Sync.SyncNow(r.Context())
	if err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// syncTest checks the sync path and whether the members agree (CFG-4).
func (s *Server) syncTest(w http.ResponseWriter, r *http.Request) {
	res, err := s.deps.Sync.Test(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// haDiff lists the leaves that differ between the members (CFG-4).
func (s *Server) haDiff(w http.ResponseWriter, r *http.Request) {
	peer, changes, err := s.deps.Sync.Diff(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, DiffResponse{From: "this unit", To: peer, Changes: changes})
}

// haJoin joins this unit to a pair (CFG-8).
func (s *Server) haJoin(w http.ResponseWriter, r *http.Request) {
	var req service.JoinRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Peer == "" || req.Key == "" || req.Port == "" || req.Address == "" {
		writeError(w, http.StatusBadRequest, errors.New("join needs peer, key, port and address"))
		return
	}
	active, err := s.deps.Join(r.Context(), req)
	if err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"joined": active})
}

// syncFirmware sends this unit's firmware to a peer that runs another
// (CFG-3).
func (s *Server) syncFirmware(w http.ResponseWriter, r *http.Request) {
	if !s.configurable(w) {
		return // the active synchronizes (CLU-11)
	}
	out, err := s.deps.SyncFirmware(r.Context())
	if err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// UpgradeRequest is the body of POST /v1/firmware/upgrade.
type UpgradeRequest struct {
	// Image is the absolute path of the new tandemd on this unit.
	Image string `json:"image"`
}

// upgrade installs new firmware and restarts the daemon into it (CFG-6).
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) {
	var req UpgradeRequest
	if !readJSON(w, r, &req) {
		return
	}
	if s.deps.Upgrade == nil {
		writeError(w, http.StatusServiceUnavailable, errors.New("this daemon cannot upgrade itself"))
		return
	}
	if req.Image == "" {
		writeError(w, http.StatusBadRequest, errors.New("upgrade needs image, the path of the new tandemd on this unit"))
		return
	}
	out, err := s.deps.Upgrade(r.Context(), req.Image)
	if err != nil {
		code := http.StatusInternalServerError
		switch service.KindOf(err) {
		case service.KindInvalid:
			code = http.StatusBadRequest
		case service.KindConflict:
			code = http.StatusConflict
		case service.KindUnavailable:
			code = http.StatusServiceUnavailable
		}
		writeError(w, code, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// configurable answers 403 with the reason when this unit refuses
// configuration changes.
func (s *Server) configurable(w http.ResponseWriter) bool {
	if s.deps.MayConfigure == nil {
		return true
	}
	if err := s.deps.MayConfigure(); err != nil {
		writeError(w, http.StatusForbidden, err)
		return false
	}
	return true
}

// recentEvents returns the events after sequence after; with after 0,
// the newest limit events. Both oldest first.
func (s *Server) recentEvents(after uint64, limit int) []telemetry.Event {
	if after > 0 {
		return s.deps.Events.List(after, limit)
	}
	all := s.deps.Events.List(0, 0)
	if len(all) > limit {
		all = all[len(all)-limit:]
	}
	return all
}

// statusOf maps datastore and validation errors to HTTP status codes.
func statusOf(err error) int {
	var issues validate.Errors
	switch {
	case errors.As(err, &issues):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrLocked):
		return http.StatusConflict
	case errors.Is(err, store.ErrNoSuchRevision):
		return http.StatusNotFound
	case errors.Is(err, store.ErrNotPending):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	body := ErrorBody{Error: err.Error()}
	var issues validate.Errors
	if errors.As(err, &issues) {
		body.Issues = issues
		body.Error = fmt.Sprintf("commit refused: %d validation error(s)", len(issues))
	}
	writeJSON(w, code, body)
}
