package netconf

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/netconf/edit"
	"github.com/tandem-ha/tandem/northbound/netconf/filter"
	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
	"github.com/tandem-ha/tandem/northbound/service"
)

// dispatch runs one operation. It returns the reply body (nil: <ok/>),
// whether the session ends after the reply, or an error for rpc-errors.
func (ss *session) dispatch(ctx context.Context, op *xmltree.Element) ([]byte, bool, error) {
	switch op.Name.Space {
	case baseNS:
		switch op.Name.Local {
		case "get":
			return ss.get(op)
		case "get-config":
			return ss.getConfig(op)
		case "edit-config":
			return nil, false, ss.editConfig(ctx, op)
		case "copy-config":
			return nil, false, ss.copyConfig(ctx, op)
		case "delete-config":
			return nil, false, ss.deleteConfig(op)
		case "lock":
			return nil, false, ss.lock(op, true)
		case "unlock":
			return nil, false, ss.lock(op, false)
		case "close-session":
			return nil, true, nil
		case "kill-session":
			return nil, false, ss.killSession(op)
		case "commit":
			return nil, false, ss.commit(ctx, op)
		case "cancel-commit":
			return nil, false, ss.cancelCommit(op)
		case "discard-changes":
			if err := ss.srv.b.CheckConfigure(ss.principal, "netconf discard-changes"); err != nil {
				return nil, false, err
			}
			return nil, false, ss.srv.b.Store.Discard(ss.storeID)
		case "validate":
			return nil, false, ss.validate(op)
		}
	case notifNS:
		if op.Name.Local == "create-subscription" {
			return nil, false, ss.createSubscription(op)
		}
	case monNS:
		if op.Name.Local == "get-schema" {
			b, err := ss.getSchema(op)
			return b, false, err
		}
	default:
		if m := ss.srv.schema.ModuleByNamespace(op.Name.Space); m != nil && m.Name == opsModule {
			b, err := ss.tandemRPC(ctx, op)
			return b, false, err
		}
	}
	e := protoErr("operation-not-supported", "operation <%s> in namespace %q is not supported", op.Name.Local, op.Name.Space)
	e.Info = [][2]string{{"bad-element", op.Name.Local}}
	return nil, false, e
}

// datastore reads the <source> or <target> parameter: running or
// candidate, or for a source an inline <config>, returned as inline.
func datastore(op *xmltree.Element, param string) (ds store.Datastore, inline *xmltree.Element, err error) {
	p := op.Child(baseNS, param)
	if p == nil {
		return 0, nil, missingElement(op.Name.Local, param)
	}
	if len(p.Children) != 1 {
		return 0, nil, badElement(param, "<%s> must name one datastore (running or candidate)", param)
	}
	switch c := p.Children[0]; {
	case c.Name.Space == baseNS && c.Name.Local == "running":
		return store.Running, nil, nil
	case c.Name.Space == baseNS && c.Name.Local == "candidate":
		return store.Candidate, nil, nil
	case c.Name.Space == baseNS && c.Name.Local == "config" && param == "source":
		return 0, c, nil
	case c.Name.Space == baseNS && (c.Name.Local == "startup" || c.Name.Local == "url"):
		e := protoErr("operation-not-supported", "<%s> is not supported: tandem has the running and candidate datastores", c.Name.Local)
		e.Info = [][2]string{{"bad-element", c.Name.Local}}
		return 0, nil, e
	default:
		return 0, nil, badElement(c.Name.Local, "<%s> %s is not a datastore; use running or candidate", param, c.Name.Local)
	}
}

// withDefaults reads the with-defaults parameter (RFC 6243).
func withDefaults(op *xmltree.Element) (string, error) {
	v := text(op, wdNS, "with-defaults")
	switch v {
	case "", "explicit", "report-all", "report-all-tagged", "trim":
		return v, nil
	}
	return "", badElement("with-defaults", "with-defaults %q is not one of report-all, report-all-tagged, trim, explicit", v)
}

// applyDefaults shapes nodes for the with-defaults mode.
func (s *Server) applyDefaults(nodes []*xmltree.Node, mode string, configOnly bool) []*xmltree.Node {
	switch mode {
	case "trim":
		return xmltree.Trim(nodes)
	case "report-all":
		return s.schema.AddDefaults(nodes, configOnly, false)
	case "report-all-tagged":
		return s.schema.AddDefaults(nodes, configOnly, true)
	}
	return nodes
}

// configNodes returns a datastore's configuration as nodes, secrets
// removed.
func (s *Server) configNodes(ds store.Datastore) ([]*xmltree.Node, error) {
	var d *tandem.Device
	if ds == store.Candidate {
		d = s.b.Store.Candidate()
	} else {
		d, _ = s.b.Store.Running()
	}
	j, err := model.EncodeRedacted(d)
	if err != nil {
		return nil, err
	}
	return s.schema.FromJSON(j)
}

func (ss *session) getConfig(op *xmltree.Element) ([]byte, bool, error) {
	ds, inline, err := datastore(op, "source")
	if err != nil {
		return nil, false, err
	}
	if inline != nil {
		return nil, false, badElement("config", "get-config reads a datastore; <config> is not a source here")
	}
	mode, err := withDefaults(op)
	if err != nil {
		return nil, false, err
	}
	nodes, err := ss.srv.configNodes(ds)
	if err != nil {
		return nil, false, err
	}
	nodes = ss.srv.applyDefaults(nodes, mode, true)
	nodes, err = applyFilter(nodes, op.Child(baseNS, "filter"))
	if err != nil {
		return nil, false, err
	}
	return ss.srv.dataReply(nodes), false, nil
}

func (ss *session) get(op *xmltree.Element) ([]byte, bool, error) {
	mode, err := withDefaults(op)
	if err != nil {
		return nil, false, err
	}
	f := op.Child(baseNS, "filter")
	nodes, err := ss.srv.configNodes(store.Running)
	if err != nil {
		return nil, false, err
	}
	stateJSON, err := ss.srv.b.Tree.JSON("/")
	if err != nil {
		return nil, false, err
	}
	state, err := ss.srv.schema.FromJSON(stateJSON)
	if err != nil {
		return nil, false, err
	}
	nodes, _ = edit.Apply(nodes, state, edit.Options{})
	nodes = ss.srv.applyDefaults(nodes, mode, false)
	nodes = append(nodes, ss.srv.monitoringNodes(), ss.srv.yangLibraryNode())
	nodes, err = applyFilter(nodes, f)
	if err != nil {
		return nil, false, err
	}
	return ss.srv.dataReply(nodes), false, nil
}

// dataReply renders <data> holding nodes.
func (s *Server) dataReply(nodes []*xmltree.Node) []byte {
	return xmlBody(func(w *xmltree.Writer) {
		w.Start(baseNS, "data")
		s.schema.WriteNodes(w, nodes)
		w.End()
	})
}

// errTestOnly stops an edit after its test passed (test-option
// test-only): nothing is stored.
var errTestOnly = errors.New("test-only edit: not applied")

func (ss *session) editConfig(ctx context.Context, op *xmltree.Element) error {
	ds, _, err := datastore(op, "target")
	if err != nil {
		return err
	}
	opts := edit.Options{DefaultOperation: text(op, baseNS, "default-operation")}
	switch opts.DefaultOperation {
	case "", "merge", "replace", "none":
	default:
		return badElement("default-operation", "default-operation %q is not merge, replace or none", opts.DefaultOperation)
	}
	test := text(op, baseNS, "test-option")
	switch test {
	case "":
		test = "test-then-set"
	case "test-then-set", "set", "test-only":
	default:
		return badElement("test-option", "test-option %q is not test-then-set, set or test-only", test)
	}
	switch eo := text(op, baseNS, "error-option"); eo {
	case "", "stop-on-error", "rollback-on-error":
	case "continue-on-error":
		opts.ContinueOnError = true
	default:
		return badElement("error-option", "error-option %q is not stop-on-error, continue-on-error or rollback-on-error", eo)
	}
	cfg := op.Child(baseNS, "config")
	if cfg == nil {
		if op.Child(baseNS, "url") != nil {
			return protoErr("operation-not-supported", "edit-config from a <url> is not supported; send <config>")
		}
		return missingElement("edit-config", "config")
	}
	if err := ss.srv.b.CheckConfigure(ss.principal, "netconf edit-config"); err != nil {
		return err
	}
	edits, err := ss.srv.schema.Decode(cfg.Children, xmltree.DecodeOptions{Ops: true, ConfigOnly: true})
	if err != nil {
		return err
	}
	var partial errorList // continue-on-error failures
	fn := func(d *tandem.Device) error {
		cur, err := model.Encode(d)
		if err != nil {
			return err
		}
		data, err := ss.srv.schema.FromJSON(cur)
		if err != nil {
			return err
		}
		result, errs := edit.Apply(data, edits, opts)
		if len(errs) > 0 {
			var list errorList
			for _, e := range errs {
				list = append(list, ss.srv.toRPCErrors(e, false, ss.srv.sessionOf)...)
			}
			if !opts.ContinueOnError {
				return list
			}
			partial = list
		}
		nd, err := ss.srv.decodeNodes(result)
		if err != nil {
			return err
		}
		// The running datastore validates every change itself (Update);
		// the candidate is validated here unless test-option is set.
		if test == "test-only" || (ds == store.Candidate && test != "set") {
			if err := validate.Validate(nd).Err(); err != nil {
				return err
			}
		}
		if test == "test-only" {
			return errTestOnly
		}
		*d = *nd
		return nil
	}
	if ds == store.Candidate {
		err = ss.srv.b.Store.EditCandidate(ss.storeID, fn)
	} else {
		_, err = ss.srv.b.Store.Update(ctx, ss.storeID, service.Meta(ss.principal, store.OriginNETCONF, "edit-config"), fn)
	}
	if errors.Is(err, errTestOnly) {
		err = nil
	}
	if err != nil {
		return err
	}
	if len(partial) > 0 {
		return partial
	}
	return nil
}

// decodeNodes turns configuration nodes into a device through RFC 7951
// JSON and ygot.
func (s *Server) decodeNodes(nodes []*xmltree.Node) (*tandem.Device, error) {
	j, err := xmltree.ToJSON(nodes)
	if err != nil {
		return nil, service.Errorf(service.KindInvalid, "%v", err)
	}
	d, err := model.Decode(j)
	if err != nil {
		return nil, service.Errorf(service.KindInvalid, "%v", err)
	}
	if errs := model.Validate(d); len(errs) > 0 {
		return nil, errs[0]
	}
	return d, nil
}

func (ss *session) copyConfig(ctx context.Context, op *xmltree.Element) error {
	target, _, err := datastore(op, "target")
	if err != nil {
		return err
	}
	source, inline, err := datastore(op, "source")
	if err != nil {
		return err
	}
	if inline == nil && source == target {
		return badElement("source", "copy-config from %s to itself does nothing; name another source", source)
	}
	if err := ss.srv.b.CheckConfigure(ss.principal, "netconf copy-config"); err != nil {
		return err
	}
	d, err := ss.sourceConfig(source, inline)
	if err != nil {
		return err
	}
	if target == store.Candidate {
		return ss.srv.b.Store.ReplaceCandidate(ss.storeID, d)
	}
	_, err = ss.srv.b.Store.Update(ctx, ss.storeID, service.Meta(ss.principal, store.OriginNETCONF, "copy-config"), func(cur *tandem.Device) error {
		*cur = *d
		return nil
	})
	return err
}

func (ss *session) deleteConfig(op *xmltree.Element) error {
	target, _, err := datastore(op, "target")
	if err != nil {
		return err
	}
	if target == store.Running {
		return badElement("running", "the running datastore cannot be deleted (RFC 6241 7.4); edit or copy-config it instead")
	}
	if err := ss.srv.b.CheckConfigure(ss.principal, "netconf delete-config"); err != nil {
		return err
	}
	return ss.srv.b.Store.ReplaceCandidate(ss.storeID, &tandem.Device{})
}

func (ss *session) lock(op *xmltree.Element, lock bool) error {
	ds, _, err := datastore(op, "target")
	if err != nil {
		return err
	}
	what := "netconf unlock"
	if lock {
		what = "netconf lock"
	}
	if err := ss.srv.b.CheckConfigure(ss.principal, what); err != nil {
		return err
	}
	if lock {
		if err := ss.srv.b.Store.Lock(ds, ss.storeID); err != nil {
			return err
		}
		ss.setLocked(ds, true)
		return nil
	}
	if err := ss.srv.b.Store.Unlock(ds, ss.storeID); err != nil {
		return err
	}
	ss.setLocked(ds, false)
	return nil
}

func (ss *session) killSession(op *xmltree.Element) error {
	v := text(op, baseNS, "session-id")
	if v == "" {
		return missingElement("kill-session", "session-id")
	}
	id, err := strconv.ParseUint(v, 10, 32)
	if err != nil || id == 0 {
		return badElement("session-id", "session-id %q is not a session number", v)
	}
	if uint32(id) == ss.id {
		return badElement("session-id", "kill-session of the own session; use close-session")
	}
	if err := ss.principal.Check(auth.Configure, "netconf kill-session"); err != nil {
		return err
	}
	other := ss.srv.session(uint32(id))
	if other == nil {
		return badElement("session-id", "no session %d", id)
	}
	ss.srv.log.Info("NETCONF session killed", "session", id, "by", ss.id, "user", ss.principal.User)
	other.close()
	select {
	case <-other.done:
	case <-time.After(10 * time.Second):
		return appErr("operation-failed", "session %d did not end within 10 s", id)
	}
	return nil
}

func (ss *session) commit(ctx context.Context, op *xmltree.Element) error {
	if err := ss.srv.b.CheckConfigure(ss.principal, "netconf commit"); err != nil {
		return err
	}
	isConfirmed := op.Child(baseNS, "confirmed") != nil
	timeout := 600 * time.Second
	if v := text(op, baseNS, "confirm-timeout"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return badElement("confirm-timeout", "confirm-timeout %q is not a number of seconds from 1", v)
		}
		timeout = time.Duration(n) * time.Second
	}
	persist, persistID := text(op, baseNS, "persist"), text(op, baseNS, "persist-id")
	hasPersistID := op.Child(baseNS, "persist-id") != nil
	s := ss.srv
	s.ccMu.Lock()
	defer s.ccMu.Unlock()
	if err := s.mayEndConfirmed(ss.id, persistID, hasPersistID); err != nil {
		return err
	}
	opts := store.CommitOptions{}
	if isConfirmed {
		opts.ConfirmTimeout = timeout
	}
	comment := "netconf commit"
	if isConfirmed {
		comment = fmt.Sprintf("netconf confirmed commit (timeout %s)", timeout)
	}
	if _, err := s.b.Store.Commit(ctx, ss.storeID, service.Meta(ss.principal, store.OriginNETCONF, comment), opts); err != nil {
		return err
	}
	if isConfirmed {
		s.cc = confirmed{active: true, owner: ss.id, persist: persist}
	} else {
		s.cc = confirmed{}
	}
	return nil
}

// mayEndConfirmed checks that session id may confirm, extend or cancel
// the pending confirmed commit: with the persist-id if one was set,
// otherwise from the issuing session (RFC 6241 8.4). Needs ccMu.
func (s *Server) mayEndConfirmed(id uint32, persistID string, hasPersistID bool) error {
	_, info := s.b.Store.Running()
	if !info.PendingConfirm {
		s.cc = confirmed{}
		if hasPersistID {
			return badElement("persist-id", "no confirmed commit with persist-id %q is pending", persistID)
		}
		return nil
	}
	if !s.cc.active {
		return nil // issued through another API: any session may end it
	}
	if s.cc.persist != "" {
		if !hasPersistID || persistID != s.cc.persist {
			return badElement("persist-id", "a persistent confirmed commit is pending; give its persist-id to confirm, extend or cancel it")
		}
		return nil
	}
	if hasPersistID {
		return badElement("persist-id", "the pending confirmed commit has no persist token")
	}
	if s.cc.owner != id {
		return appErr("in-use", "the confirmed commit of session %d is pending; only that session may confirm, extend or cancel it", s.cc.owner)
	}
	return nil
}

func (ss *session) cancelCommit(op *xmltree.Element) error {
	if err := ss.srv.b.CheckConfigure(ss.principal, "netconf cancel-commit"); err != nil {
		return err
	}
	s := ss.srv
	s.ccMu.Lock()
	defer s.ccMu.Unlock()
	persistID := text(op, baseNS, "persist-id")
	if err := s.mayEndConfirmed(ss.id, persistID, op.Child(baseNS, "persist-id") != nil); err != nil {
		return err
	}
	if _, err := s.b.Store.CancelConfirmed(ss.storeID, service.Meta(ss.principal, "rollback", "netconf cancel-commit")); err != nil {
		return err
	}
	s.cc = confirmed{}
	return nil
}

func (ss *session) validate(op *xmltree.Element) error {
	ds, inline, err := datastore(op, "source")
	if err != nil {
		return err
	}
	d, err := ss.sourceConfig(ds, inline)
	if err != nil {
		return err
	}
	return validate.Validate(d).Err()
}

// sourceConfig is the configuration a <source> names: the inline <config>
// when there is one, else the candidate or running datastore.
func (ss *session) sourceConfig(ds store.Datastore, inline *xmltree.Element) (*tandem.Device, error) {
	if inline != nil {
		nodes, err := ss.srv.schema.Decode(inline.Children, xmltree.DecodeOptions{ConfigOnly: true})
		if err != nil {
			return nil, err
		}
		return ss.srv.decodeNodes(nodes)
	}
	if ds == store.Candidate {
		return ss.srv.b.Store.Candidate(), nil
	}
	d, _ := ss.srv.b.Store.Running()
	return d, nil
}

// applyFilter applies a <filter> (subtree or xpath) to nodes; no filter
// selects everything.
func applyFilter(nodes []*xmltree.Node, f *xmltree.Element) ([]*xmltree.Node, error) {
	if f == nil {
		return nodes, nil
	}
	typ, ok := f.Attr("", "type")
	if !ok {
		typ, _ = f.Attr(baseNS, "type")
	}
	switch typ {
	case "", "subtree":
		return filter.Subtree(nodes, f.Children), nil
	case "xpath":
		sel, ok := f.Attr("", "select")
		if !ok {
			sel, ok = f.Attr(baseNS, "select")
		}
		if !ok || strings.TrimSpace(sel) == "" {
			e := protoErr("missing-attribute", "an xpath filter needs a select attribute")
			e.Info = [][2]string{{"bad-attribute", "select"}, {"bad-element", "filter"}}
			return nil, e
		}
		out, err := filter.XPath(nodes, sel, f.Scope)
		if err != nil {
			e := protoErr("invalid-value", "%v", err)
			e.Info = [][2]string{{"bad-attribute", "select"}, {"bad-element", "filter"}}
			return nil, e
		}
		return out, nil
	}
	e := protoErr("bad-attribute", "filter type %q is not subtree or xpath", typ)
	e.Info = [][2]string{{"bad-attribute", "type"}, {"bad-element", "filter"}}
	return nil, e
}
