package netconf

import (
	"strconv"

	"github.com/tandem-ha/tandem/core/store"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

// Nodes outside tandem's YANG (ietf-netconf-monitoring, ietf-yang-library)
// are built without schema entries.

func leaf(ns, name, value string) *xmltree.Node {
	return &xmltree.Node{Name: name, Namespace: ns, Leaf: true, Value: value}
}

func container(ns, name string, children ...*xmltree.Node) *xmltree.Node {
	return &xmltree.Node{Name: name, Namespace: ns, Children: children}
}

func dateTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// monitoringNodes is the /netconf-state tree of RFC 6022.
func (s *Server) monitoringNodes() *xmltree.Node {
	caps := container(monNS, "capabilities")
	for _, c := range s.capabilities() {
		caps.Children = append(caps.Children, leaf(monNS, "capability", c))
	}
	stores := container(monNS, "datastores")
	for _, ds := range []store.Datastore{store.Running, store.Candidate} {
		d := container(monNS, "datastore", leaf(monNS, "name", ds.String()))
		if holder, since := s.lockHolder(ds); holder != nil {
			d.Children = append(d.Children, container(monNS, "locks",
				container(monNS, "global-lock", leaf(monNS, "locked-by-session", u32(holder.id)),
					leaf(monNS, "locked-time", dateTime(since)))))
		}
		stores.Children = append(stores.Children, d)
	}
	schemas := container(monNS, "schemas")
	for _, m := range s.schema.Modules() {
		schemas.Children = append(schemas.Children, container(monNS, "schema",
			leaf(monNS, "identifier", m.Name), leaf(monNS, "version", m.Revision), leaf(monNS, "format", "yang"),
			leaf(monNS, "namespace", m.Namespace), leaf(monNS, "location", "NETCONF")))
	}
	sessions := container(monNS, "sessions")
	s.mu.Lock()
	for _, ss := range s.sortedSessions() {
		sessions.Children = append(sessions.Children, container(monNS, "session",
			leaf(monNS, "session-id", u32(ss.id)), leaf(monNS, "transport", "netconf-ssh"),
			leaf(monNS, "username", ss.principal.User), leaf(monNS, "source-host", ss.source),
			leaf(monNS, "login-time", dateTime(ss.login)), leaf(monNS, "in-rpcs", u32(ss.inRPCs.Load())),
			leaf(monNS, "in-bad-rpcs", u32(ss.inBadRPCs.Load())), leaf(monNS, "out-rpc-errors", u32(ss.outErrors.Load())),
			leaf(monNS, "out-notifications", u32(ss.outNotif.Load()))))
	}
	s.mu.Unlock()
	st := &s.stats
	stats := container(monNS, "statistics",
		leaf(monNS, "netconf-start-time", dateTime(s.start)), leaf(monNS, "in-bad-hellos", u32(st.inBadHellos.Load())),
		leaf(monNS, "in-sessions", u32(st.inSessions.Load())), leaf(monNS, "dropped-sessions", u32(st.droppedSessions.Load())),
		leaf(monNS, "in-rpcs", u32(st.inRPCs.Load())), leaf(monNS, "in-bad-rpcs", u32(st.inBadRPCs.Load())),
		leaf(monNS, "out-rpc-errors", u32(st.outRPCErrors.Load())), leaf(monNS, "out-notifications", u32(st.outNotif.Load())))
	return container(monNS, "netconf-state", caps, stores, schemas, sessions, stats)
}

// lockHolder returns the NETCONF session holding the lock on ds and
// since when, or nil. (Locks held through REST or gNMI are not listed:
// core/store does not say who holds a lock.)
func (s *Server) lockHolder(ds store.Datastore) (*session, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if t, ok := ss.lockedSince(ds); ok {
			return ss, t
		}
	}
	return nil, time.Time{}
}

// sortedSessions lists the sessions by id. Needs s.mu.
func (s *Server) sortedSessions() []*session {
	out := make([]*session, 0, len(s.sessions))
	for id := uint32(1); len(out) < len(s.sessions) && id <= s.nextID.Load(); id++ {
		if ss := s.sessions[id]; ss != nil {
			out = append(out, ss)
		}
	}
	return out
}

// yangLibraryNode is the /yang-library tree of RFC 8525: one module set
// with tandem's modules (implemented) and the modules they only import,
// one schema, and the running and candidate datastores.
func (s *Server) yangLibraryNode() *xmltree.Node {
	set := container(yangLibNS, "module-set", leaf(yangLibNS, "name", "tandem"))
	for _, m := range s.schema.Modules() {
		kind := "import-only-module"
		if m.Implemented {
			kind = "module"
		}
		set.Children = append(set.Children, container(yangLibNS, kind,
			leaf(yangLibNS, "name", m.Name), leaf(yangLibNS, "revision", m.Revision),
			leaf(yangLibNS, "namespace", m.Namespace)))
	}
	for _, std := range standardModules {
		set.Children = append(set.Children, container(yangLibNS, "module",
			leaf(yangLibNS, "name", std[0]), leaf(yangLibNS, "revision", std[1]), leaf(yangLibNS, "namespace", std[2])))
	}
	lib := container(yangLibNS, "yang-library", set,
		container(yangLibNS, "schema", leaf(yangLibNS, "name", "tandem"), leaf(yangLibNS, "module-set", "tandem")))
	for _, ds := range []string{"running", "candidate"} {
		name := leaf(yangLibNS, "name", ds)
		name.ValueModule = datastoreNS
		lib.Children = append(lib.Children, container(yangLibNS, "datastore", name, leaf(yangLibNS, "schema", "tandem")))
	}
	lib.Children = append(lib.Children, leaf(yangLibNS, "content-id", s.contentID()))
	return lib
}

// standardModules are the protocol modules the server implements besides
// tandem's own: name, revision, namespace.
var standardModules = [][3]string{
	{"ietf-netconf", "2011-06-01", baseNS},
	{"ietf-netconf-monitoring", "2010-10-04", monNS},
	{"ietf-netconf-with-defaults", "2011-06-01", wdNS},
	{"ietf-yang-library", "2019-01-04", yangLibNS},
	{"ietf-datastores", "2018-02-14", datastoreNS},
	{"notifications", "2008-07-14", notifNS},
	{"nc-notifications", "2008-07-14", nmNotifNS},
}

// getSchema is <get-schema> (RFC 6022 section 3.1): the YANG text of one
// of tandem's modules.
func (ss *session) getSchema(op *xmltree.Element) ([]byte, error) {
	id := text(op, monNS, "identifier")
	if id == "" {
		return nil, missingElement("get-schema", "identifier")
	}
	if f := text(op, monNS, "format"); f != "" && f != "yang" && !strings.HasSuffix(f, ":yang") {
		return nil, badElement("format", "format %q is not served; only yang", f)
	}
	m := ss.srv.schema.Module(id)
	if m == nil {
		return nil, badElement("identifier", "no schema %q; the schemas are listed in /netconf-state/schemas", id)
	}
	if v := text(op, monNS, "version"); v != "" && v != m.Revision {
		return nil, badElement("version", "schema %s has revision %s, not %s", id, m.Revision, v)
	}
	return xmlBody(func(w *xmltree.Writer) {
		w.Start(monNS, "data")
		w.Text(string(m.Source))
		w.End()
	}), nil
}
