package rest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/northbound/rest/datatree"
	"github.com/tandem-ha/tandem/northbound/rest/rcpath"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
	"github.com/tandem-ha/tandem/northbound/service"
)

// datastore is what a data resource path addresses (RFC 8527 names).
type datastore string

const (
	dsRunning     datastore = "ietf-datastores:running"
	dsCandidate   datastore = "ietf-datastores:candidate"
	dsOperational datastore = "ietf-datastores:operational"
)

// request is a parsed data resource request.
type request struct {
	ds     datastore
	target rcpath.Target
	// library is the path below ietf-yang-library:, which is served
	// from the schema rather than a datastore.
	library string
	isLib   bool
}

// parseRequest takes the datastore and target from the escaped URL path.
func (s *Server) parseRequest(c echo.Context) (request, error) {
	p := c.Request().URL.EscapedPath()
	var rq request
	switch {
	case p == "/restconf/data" || strings.HasPrefix(p, "/restconf/data/"):
		rq.ds = dsRunning
		p = strings.TrimPrefix(strings.TrimPrefix(p, "/restconf/data"), "/")
	case strings.HasPrefix(p, "/restconf/ds/"):
		name, rest, _ := strings.Cut(strings.TrimPrefix(p, "/restconf/ds/"), "/")
		ds, err := url.PathUnescape(name)
		if err != nil {
			return rq, newError(http.StatusBadRequest, "invalid-value", "", "datastore %q: %v", name, err)
		}
		switch datastore(ds) {
		case dsRunning, dsCandidate, dsOperational:
			rq.ds = datastore(ds)
		default:
			return rq, newError(http.StatusNotFound, "invalid-value", "", "datastore %q: use %s, %s or %s", ds, dsRunning, dsCandidate, dsOperational)
		}
		p = rest
	}
	if strings.HasPrefix(p, "ietf-yang-library:") {
		rq.isLib, rq.library = true, p
		return rq, nil
	}
	t, err := rcpath.Parse(s.schema, p)
	if err != nil {
		return rq, err
	}
	rq.target = t
	return rq, nil
}

// readQuery is the query of a GET.
type readQuery struct {
	content  string
	depth    int
	fields   datatree.Fields
	defaults datatree.DefaultsMode
}

func parseReadQuery(c echo.Context, ds datastore) (readQuery, error) {
	q := readQuery{content: "all"}
	if ds == dsCandidate {
		q.content = "config"
	}
	params, err := queryParams(c)
	if err != nil {
		return q, err
	}
	for k, vs := range params {
		if len(vs) != 1 {
			return q, newError(http.StatusBadRequest, "invalid-value", "", "query parameter %s given %d times; give it once", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "content":
			if v != "config" && v != "nonconfig" && v != "all" {
				return q, newError(http.StatusBadRequest, "invalid-value", "", "content=%q: use config, nonconfig or all", v)
			}
			if ds == dsCandidate && v != "config" {
				return q, newError(http.StatusBadRequest, "invalid-value", "", "content=%s: the candidate holds configuration only", v)
			}
			q.content = v
		case "depth":
			if v == "unbounded" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				return q, newError(http.StatusBadRequest, "invalid-value", "", "depth=%q: use unbounded or 1 to 65535", v)
			}
			q.depth = n
		case "fields":
			f, err := datatree.ParseFields(v)
			if err != nil {
				return q, newError(http.StatusBadRequest, "invalid-value", "", "%v", err)
			}
			q.fields = f
		case "with-defaults":
			m, err := datatree.ParseDefaultsMode(v)
			if err != nil {
				return q, newError(http.StatusBadRequest, "invalid-value", "", "%v", err)
			}
			q.defaults = m
		default:
			return q, newError(http.StatusBadRequest, "invalid-value", "", "query parameter %q is not supported on GET; use content, depth, fields or with-defaults", k)
		}
	}
	return q, nil
}

// queryParams parses the query string. Unlike net/url it keeps ";"
// inside values, as RFC 8040 fields expressions use it unencoded.
func queryParams(c echo.Context) (url.Values, error) {
	out := url.Values{}
	for _, kv := range strings.Split(c.Request().URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, newError(http.StatusBadRequest, "invalid-value", "", "query %q: bad percent-encoding", kv)
		}
		out[key] = append(out[key], val)
	}
	return out, nil
}

// snapshot is a datastore's configuration as a document, with its
// entity tag and time.
type snapshot struct {
	doc      datatree.Doc
	etag     string
	modified time.Time
	revision uint64
}

// encodedCache keeps the redacted encoding of the last running revision
// read, so that reads between commits skip the encoding.
type encodedCache struct {
	mu  sync.Mutex
	id  uint64
	enc []byte
}

func (s *Server) config(ds datastore) (snapshot, error) {
	if ds == dsCandidate {
		b, err := model.EncodeRedacted(s.b.Store.Candidate())
		if err != nil {
			return snapshot{}, err
		}
		doc, err := datatree.DecodeDoc(b)
		return snapshot{doc: doc, etag: candidateTag(b)}, err
	}
	enc, info, err := s.runningEncoded()
	if err != nil {
		return snapshot{}, err
	}
	doc, err := datatree.DecodeDoc(enc)
	return snapshot{doc: doc, etag: runningTag(info.ID), modified: info.Time, revision: info.ID}, err
}

// runningEncoded returns the running configuration's redacted encoding
// and revision. The running revision is always the newest of the
// history, so a read between commits finds it cached without copying the
// configuration.
func (s *Server) runningEncoded() ([]byte, store.RevisionInfo, error) {
	if h := s.b.Store.History(1); len(h) == 1 {
		s.cache.mu.Lock()
		enc, id := s.cache.enc, s.cache.id
		s.cache.mu.Unlock()
		if id == h[0].ID && enc != nil {
			return enc, h[0], nil
		}
	}
	d, info := s.b.Store.Running()
	enc, err := model.EncodeRedacted(d)
	if err != nil {
		return nil, info, err
	}
	s.cache.mu.Lock()
	s.cache.id, s.cache.enc = info.ID, enc
	s.cache.mu.Unlock()
	return enc, info, nil
}

func runningTag(id uint64) string { return `"` + strconv.FormatUint(id, 10) + `"` }

func candidateTag(enc []byte) string {
	sum := sha256.Sum256(enc)
	return `"c-` + hex.EncodeToString(sum[:8]) + `"`
}

// hasState reports whether e or a node below it is config false.
func hasState(e *yang.Entry) bool {
	if e == nil || !schema.IsConfig(e) {
		return true
	}
	for _, c := range e.Dir {
		if hasState(c) {
			return true
		}
	}
	return false
}

// get serves GET and HEAD of a data resource.
func (s *Server) get(c echo.Context) error {
	rq, err := s.parseRequest(c)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	if rq.isLib {
		return s.yangLibrary(c, rq.library)
	}
	t := rq.target
	q, err := parseReadQuery(c, rq.ds)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	if q.content == "config" && !t.Config() {
		return writeError(c, newError(http.StatusBadRequest, "invalid-value", t.InstanceID(), "%s is state (config false); content=config selects nothing of it", t.InstanceID()))
	}
	if t.Root() && rq.ds == dsRunning && q.content == "config" && q.depth == 0 && q.fields == nil && (q.defaults == "" || q.defaults == datatree.Explicit) {
		return s.getRunningWhole(c)
	}
	snap, err := s.config(rq.ds)
	if err != nil {
		return writeError(c, toError(err, t.InstanceID()))
	}
	doc := snap.doc
	if q.content == "nonconfig" {
		doc = datatree.Doc{}
	}
	if q.content != "config" && hasState(t.Entry()) {
		raw, err := s.b.Tree.JSON(t.ModelPath())
		if err != nil {
			return writeError(c, toError(err, t.InstanceID()))
		}
		state, err := datatree.DecodeDoc(raw)
		if err != nil {
			return writeError(c, toError(err, t.InstanceID()))
		}
		datatree.MergeRoot(s.schema, doc, state)
	}
	v, ok := datatree.Find(doc, t)
	if !ok && datatree.Present(doc, t) {
		v, ok = map[string]any{}, true // an empty non-presence container
	}
	if !ok && (q.defaults == datatree.ReportAll || q.defaults == datatree.ReportAllTagged) && !t.IsEntry() && datatree.Present(doc, t.Parent()) {
		v, ok = datatree.DefaultOf(t.Entry())
	}
	if !ok {
		return writeError(c, newError(http.StatusNotFound, "invalid-value", t.InstanceID(), "%s does not exist in %s", t.InstanceID(), rq.ds))
	}
	v = datatree.Defaults(s.schema, t.Entry(), v, q.defaults)
	if v, err = datatree.Select(s.schema, t.Entry(), v, q.fields); err != nil {
		return writeError(c, newError(http.StatusBadRequest, "invalid-value", t.InstanceID(), "%v", err))
	}
	if q.depth > 0 {
		v = datatree.Depth(v, q.depth)
	}
	s.setTags(c, snap)
	if match := c.Request().Header.Get("If-None-Match"); match != "" && etagMatches(match, snap.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return writeData(c, http.StatusOK, datatree.Wrap(t, v))
}

// getRunningWhole answers GET of the whole running configuration
// (content=config, no other parameter) with the cached encoding as is.
func (s *Server) getRunningWhole(c echo.Context) error {
	enc, info, err := s.runningEncoded()
	if err != nil {
		return writeError(c, toError(err, "/"))
	}
	snap := snapshot{etag: runningTag(info.ID), modified: info.Time, revision: info.ID}
	s.setTags(c, snap)
	if match := c.Request().Header.Get("If-None-Match"); match != "" && etagMatches(match, snap.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set(echo.HeaderContentType, mediaData)
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, mediaData, enc)
}

func (s *Server) setTags(c echo.Context, snap snapshot) {
	h := c.Response().Header()
	h.Set("ETag", snap.etag)
	if !snap.modified.IsZero() {
		h.Set("Last-Modified", snap.modified.UTC().Format(http.TimeFormat))
	}
}

// etagMatches checks an If-Match or If-None-Match list against tag.
func etagMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// writeData sends v as application/yang-data+json.
func writeData(c echo.Context, status int, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set(echo.HeaderContentType, mediaData)
		c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(b)+1))
		return c.NoContent(status)
	}
	return c.Blob(status, mediaData, append(b, '\n'))
}

// options answers OPTIONS with the methods the resource allows.
func (s *Server) options(c echo.Context) error {
	rq, err := s.parseRequest(c)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	allow := "GET, HEAD, OPTIONS"
	if !rq.isLib && rq.ds != dsOperational && rq.target.Config() {
		allow += ", POST, PUT, PATCH, DELETE"
		c.Response().Header().Set("Accept-Patch", mediaData+", "+mediaPatch)
	}
	c.Response().Header().Set("Allow", allow)
	return c.NoContent(http.StatusOK)
}

// parseWrite parses a write request: a writable target, no query
// parameters.
func (s *Server) parseWrite(c echo.Context) (request, error) {
	rq, err := s.parseRequest(c)
	if err == nil {
		err = writable(c, rq)
	}
	if err == nil {
		err = noWriteQuery(c)
	}
	return rq, err
}

// writable refuses writes to state, the operational datastore and the
// YANG library with 405.
func writable(c echo.Context, rq request) error {
	if rq.isLib || rq.ds == dsOperational || !rq.target.Config() {
		what := rq.target.InstanceID()
		if rq.isLib {
			what = rq.library
		}
		e := newError(http.StatusMethodNotAllowed, "operation-not-supported", what, "%s of %s: state data and the %s datastore are read-only", c.Request().Method, what, dsOperational)
		if rq.ds == dsOperational {
			e.Entries[0].Message = fmt.Sprintf("%s: the operational datastore is read-only; write to %s or %s", c.Request().Method, dsRunning, dsCandidate)
		} else if !rq.isLib {
			e.Entries[0].Message = fmt.Sprintf("%s is state (config false) and cannot be written", what)
		}
		e.Header = http.Header{"Allow": {"GET, HEAD, OPTIONS"}}
		return e
	}
	return nil
}

// readBody reads and decodes a JSON request body of one of the media
// types.
func readBody(c echo.Context, types ...string) (any, string, error) {
	r := c.Request()
	ct := r.Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		mt = ""
	}
	ok := false
	for _, t := range types {
		ok = ok || mt == t
	}
	if !ok {
		return nil, mt, newError(http.StatusUnsupportedMediaType, "invalid-value", "", "Content-Type %q: send %s", ct, strings.Join(types, " or "))
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, mt, newError(http.StatusRequestEntityTooLarge, "too-big", "", "request body exceeds the limit of %d bytes", mbe.Limit)
		}
		return nil, mt, newError(http.StatusBadRequest, "malformed-message", "", "reading the body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, mt, newError(http.StatusBadRequest, "malformed-message", "", "the request has no body")
	}
	v, err := datatree.Decode(b)
	if err != nil {
		return nil, mt, newError(http.StatusBadRequest, "malformed-message", "", "the body is not valid JSON: %v", err)
	}
	return v, mt, nil
}

// noWriteQuery refuses query parameters on writes (insert and point are
// not supported: the only user-ordered list takes its order from PUT).
func noWriteQuery(c echo.Context) error {
	params, err := queryParams(c)
	if err != nil {
		return err
	}
	for k := range params {
		return newError(http.StatusBadRequest, "invalid-value", "", "query parameter %q is not supported on %s", k, c.Request().Method)
	}
	return nil
}

// edit is a change to a configuration document; it reports whether it
// created the target.
type edit func(doc datatree.Doc) (created bool, err error)

// commitEdit applies fn to the datastore: to running atomically (copy,
// edit, validate, commit), or to the candidate. what names the change
// for the role check and the revision comment. If-Match is checked
// against the datastore's entity tag inside the same atomic step.
func (s *Server) commitEdit(c echo.Context, ds datastore, what string, fn edit) (bool, snapshot, error) {
	if err := s.b.CheckConfigure(principal(c), what); err != nil {
		return false, snapshot{}, err
	}
	ifMatch := c.Request().Header.Get("If-Match")
	var created bool
	apply := func(d *tandem.Device, etag func() (string, error)) error {
		if ifMatch != "" {
			tag, err := etag()
			if err != nil {
				return err
			}
			if !etagMatches(ifMatch, tag) {
				return newError(http.StatusPreconditionFailed, "operation-failed", "", "If-Match %s: the %s datastore is at %s now; read it again and retry", ifMatch, ds, tag)
			}
		}
		enc, err := model.Encode(d)
		if err != nil {
			return err
		}
		doc, err := datatree.DecodeDoc(enc)
		if err != nil {
			return err
		}
		if created, err = fn(doc); err != nil {
			return err
		}
		out, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		nd, err := model.Decode(out)
		if err != nil {
			return service.Errorf(service.KindInvalid, "%s", strings.TrimPrefix(err.Error(), "decode configuration: "))
		}
		*d = *nd
		return nil
	}
	if ds == dsCandidate {
		err := s.b.Store.EditCandidate(session(c), func(d *tandem.Device) error {
			return apply(d, func() (string, error) {
				b, err := model.EncodeRedacted(d)
				return candidateTag(b), err
			})
		})
		if err != nil {
			return false, snapshot{}, err
		}
		b, err := model.EncodeRedacted(s.b.Store.Candidate())
		return created, snapshot{etag: candidateTag(b)}, err
	}
	info, err := s.b.Store.Update(c.Request().Context(), session(c), meta(c, what), func(d *tandem.Device) error {
		return apply(d, func() (string, error) {
			// Update holds the datastore's write lock while this runs,
			// so the running revision read here is the one being edited.
			_, cur := s.b.Store.Running()
			return runningTag(cur.ID), nil
		})
	})
	if err != nil {
		return false, snapshot{}, err
	}
	return created, snapshot{etag: runningTag(info.ID), modified: info.Time, revision: info.ID}, nil
}

// describe names a request for the audit trail and role checks, such as
// "PUT /restconf/data/tandem-ha:ha/config".
func describe(c echo.Context) string {
	return c.Request().Method + " " + c.Request().URL.EscapedPath()
}

// writeDone answers a successful write.
func (s *Server) writeDone(c echo.Context, status int, snap snapshot) error {
	s.setTags(c, snap)
	if snap.revision > 0 {
		c.Response().Header().Set("Tandem-Revision", strconv.FormatUint(snap.revision, 10))
	}
	return c.NoContent(status)
}

// put creates or replaces the target (RFC 8040, 4.5): 201 or 204.
func (s *Server) put(c echo.Context) error {
	rq, err := s.parseWrite(c)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	t := rq.target
	body, _, err := readBody(c, mediaData, echo.MIMEApplicationJSON)
	if err != nil {
		return writeError(c, toError(err, t.InstanceID()))
	}
	v, err := datatree.Unwrap(t, body)
	if err != nil {
		return writeError(c, toError(err, t.InstanceID()))
	}
	created, snap, err := s.commitEdit(c, rq.ds, describe(c), func(doc datatree.Doc) (bool, error) {
		existed := datatree.Exists(doc, t)
		return !existed, datatree.Replace(doc, t, v)
	})
	if err != nil {
		return writeError(c, toError(err, t.InstanceID()))
	}
	if created {
		return s.writeDone(c, http.StatusCreated, snap)
	}
	return s.writeDone(c, http.StatusNoContent, snap)
}

// post creates a child of the target (RFC 8040, 4.4.1): 201 with its
// Location, 409 when it exists.
func (s *Server) post(c echo.Context) error {
	rq, err := s.parseWrite(c)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	parent := rq.target
	body, _, err := readBody(c, mediaData, echo.MIMEApplicationJSON)
	if err != nil {
		return writeError(c, toError(err, parent.InstanceID()))
	}
	child, v, err := s.childOf(parent, body)
	if err != nil {
		return writeError(c, toError(err, parent.InstanceID()))
	}
	_, snap, err := s.commitEdit(c, rq.ds, describe(c)+" ("+child.URL()+")", func(doc datatree.Doc) (bool, error) {
		if !datatree.Present(doc, parent) {
			return false, &datatree.Error{Path: parent.InstanceID(), Tag: "data-missing", Msg: "the parent resource does not exist; create it first"}
		}
		if datatree.Exists(doc, child) {
			return false, &datatree.Error{Path: child.InstanceID(), Tag: "data-exists", Msg: "already exists; use PUT to replace it or PATCH to merge into it"}
		}
		return true, datatree.Replace(doc, child, v)
	})
	if err != nil {
		return writeError(c, toError(err, child.InstanceID()))
	}
	prefix := "/restconf/data/"
	if rq.ds != dsRunning || strings.HasPrefix(c.Request().URL.Path, "/restconf/ds/") {
		prefix = "/restconf/ds/" + string(rq.ds) + "/"
	}
	c.Response().Header().Set("Location", prefix+child.URL())
	return s.writeDone(c, http.StatusCreated, snap)
}

// childOf resolves the single member of a POST body to the child target
// it creates and that child's value.
func (s *Server) childOf(parent rcpath.Target, body any) (rcpath.Target, any, error) {
	obj, ok := body.(map[string]any)
	if !ok || len(obj) != 1 {
		return rcpath.Target{}, nil, newError(http.StatusBadRequest, "malformed-message", parent.InstanceID(), "a POST body is one JSON object with a single member: the child to create")
	}
	var name string
	var v any
	for name, v = range obj {
	}
	mod, local, qualified := strings.Cut(name, ":")
	if !qualified {
		local = name
	}
	var e *yang.Entry
	module := parent.Module()
	if parent.Root() {
		if !qualified {
			return rcpath.Target{}, nil, newError(http.StatusBadRequest, "invalid-value", "/", "top-level member %q must be module-qualified", name)
		}
		e, module = s.schema.Top[local], mod
		if s.schema.TopModule[local] != mod {
			e = nil
		}
	} else {
		pe := parent.Entry()
		if pe.IsLeaf() || pe.IsLeafList() || (pe.IsList() && !parent.IsEntry()) {
			return rcpath.Target{}, nil, newError(http.StatusBadRequest, "invalid-value", parent.InstanceID(), "POST creates a child of a container or list entry; to add an entry of list %s POST to its parent", pe.Name)
		}
		if qualified && mod != module {
			e = nil
		} else {
			e = pe.Dir[local]
		}
	}
	if e == nil || e.RPC != nil {
		return rcpath.Target{}, nil, newError(http.StatusBadRequest, "unknown-element", parent.InstanceID(), "%q is not a child of %s", name, parent.InstanceID())
	}
	if !schema.IsConfig(e) {
		return rcpath.Target{}, nil, newError(http.StatusBadRequest, "invalid-value", parent.InstanceID(), "%s is state (config false) and cannot be created", name)
	}
	step := rcpath.Step{Entry: e, Module: module}
	if e.IsList() || e.IsLeafList() {
		if arr, ok := v.([]any); ok {
			if len(arr) != 1 {
				return rcpath.Target{}, nil, newError(http.StatusBadRequest, "invalid-value", parent.InstanceID(), "POST creates one entry of %s at a time; the body holds %d", e.Name, len(arr))
			}
			v = arr[0]
		}
		if e.IsLeafList() {
			str, ok := v.(string)
			if !ok {
				b, _ := json.Marshal(v)
				str = string(b)
			}
			step.Keys = []string{str}
		} else {
			entry, ok := v.(map[string]any)
			if !ok {
				return rcpath.Target{}, nil, newError(http.StatusBadRequest, "malformed-message", parent.InstanceID(), "an entry of list %s must be a JSON object", e.Name)
			}
			for _, k := range schema.Keys(e) {
				kv, ok := entry[k]
				if !ok {
					return rcpath.Target{}, nil, newError(http.StatusBadRequest, "invalid-value", parent.InstanceID(), "the new entry of %s lacks its key leaf %s", e.Name, k)
				}
				str := fmt.Sprint(kv)
				step.Keys = append(step.Keys, str)
			}
		}
	}
	return parent.Child(step), v, nil
}

// patch merges the body into the target (plain PATCH, RFC 8040 4.6.1) or
// applies a YANG patch (RFC 8072) when the body is yang-patch+json.
func (s *Server) patch(c echo.Context) error {
	rq, err := s.parseWrite(c)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	t := rq.target
	body, mt, err := readBody(c, mediaData, echo.MIMEApplicationJSON, mediaPatch)
	if err != nil {
		return writeError(c, toError(err, t.InstanceID()))
	}
	if mt == mediaPatch {
		return s.yangPatch(c, rq, body)
	}
	v, err := datatree.Unwrap(t, body)
	if err != nil {
		return writeError(c, toError(err, t.InstanceID()))
	}
	_, snap, err := s.commitEdit(c, rq.ds, describe(c), func(doc datatree.Doc) (bool, error) {
		if !datatree.Present(doc, t) {
			return false, &datatree.Error{Path: t.InstanceID(), Tag: "data-missing", Msg: "does not exist; PATCH merges into an existing resource (create it with POST or PUT)"}
		}
		return false, datatree.Merge(s.schema, doc, t, v)
	})
	if err != nil {
		return writeError(c, toError(err, t.InstanceID()))
	}
	return s.writeDone(c, http.StatusNoContent, snap)
}

// delete removes the target: 204, or 404 when it does not exist.
func (s *Server) delete(c echo.Context) error {
	rq, err := s.parseWrite(c)
	if err != nil {
		return writeError(c, toError(err, ""))
	}
	t := rq.target
	_, snap, err := s.commitEdit(c, rq.ds, describe(c), func(doc datatree.Doc) (bool, error) {
		if !datatree.Remove(doc, t) && !t.Root() {
			return false, &datatree.Error{Path: t.InstanceID(), Tag: "data-missing", Msg: "does not exist"}
		}
		return false, nil
	})
	if err != nil {
		return writeError(c, toError(err, t.InstanceID()))
	}
	return s.writeDone(c, http.StatusNoContent, snap)
}
