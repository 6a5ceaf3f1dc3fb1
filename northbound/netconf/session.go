package netconf

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/netconf/framing"
	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

// session is one NETCONF session on one SSH channel.
type session struct {
	srv       *Server
	id        uint32
	storeID   string // the session's name in core/store: "netconf:<id>"
	principal auth.Principal
	source    string
	login     time.Time
	ch        ssh.Channel
	conn      *ssh.ServerConn
	r         *framing.Reader
	w         *framing.Writer

	closeOnce sync.Once
	done      chan struct{} // closed once the server cleaned up after it

	subMu sync.Mutex
	sub   *subscription
	// afterReply runs once the current rpc's reply is sent (a new
	// subscription starts streaming only after its <ok/>).
	afterReply func()

	lockMu sync.Mutex
	locks  map[store.Datastore]time.Time // datastores this session locked

	inRPCs, inBadRPCs, outErrors, outNotif atomic.Uint32
}

func newSession(srv *Server, id uint32, sc *ssh.ServerConn, ch ssh.Channel, p auth.Principal) *session {
	return &session{
		srv: srv, id: id, storeID: fmt.Sprintf("netconf:%d", id), principal: p,
		source: hostOf(sc.RemoteAddr()), login: time.Now(), ch: ch, conn: sc,
		r: framing.NewReader(ch, 0), w: framing.NewWriter(ch), done: make(chan struct{}),
	}
}

// setLocked records that the session took or released the lock on ds.
func (ss *session) setLocked(ds store.Datastore, on bool) {
	ss.lockMu.Lock()
	defer ss.lockMu.Unlock()
	if ss.locks == nil {
		ss.locks = map[store.Datastore]time.Time{}
	}
	if on {
		if _, ok := ss.locks[ds]; !ok {
			ss.locks[ds] = time.Now()
		}
		return
	}
	delete(ss.locks, ds)
}

// lockedSince reports whether the session holds the lock on ds.
func (ss *session) lockedSince(ds store.Datastore) (time.Time, bool) {
	ss.lockMu.Lock()
	defer ss.lockMu.Unlock()
	t, ok := ss.locks[ds]
	return t, ok
}

// close ends the session from outside (kill-session, shutdown).
func (ss *session) close() {
	ss.closeOnce.Do(func() { _ = ss.ch.Close() })
}

// run exchanges hellos and serves rpcs until the peer closes, sends
// <close-session>, or ctx ends.
func (ss *session) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Close the channel before waiting for the notification sender, so
	// that a sender blocked on a client that stopped reading returns.
	defer ss.stopSubscription()
	defer ss.close()
	go func() { <-ctx.Done(); ss.close() }()
	if err := ss.hello(); err != nil {
		ss.srv.stats.inBadHellos.Add(1)
		ss.srv.log.Info("NETCONF hello failed", "session", ss.id, "err", err)
		return
	}
	idle := time.AfterFunc(ss.srv.opts.IdleTimeout, ss.closeIfIdle)
	defer idle.Stop()
	for {
		msg, err := ss.r.ReadMessage()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				ss.srv.log.Debug("NETCONF session read ended", "session", ss.id, "err", err)
			}
			return
		}
		idle.Reset(ss.srv.opts.IdleTimeout)
		if closing := ss.handle(ctx, msg); closing {
			return
		}
	}
}

func (ss *session) closeIfIdle() {
	ss.subMu.Lock()
	subscribed := ss.sub != nil
	ss.subMu.Unlock()
	if !subscribed {
		ss.srv.log.Info("NETCONF session idle; closing", "session", ss.id)
		ss.close()
	}
}

// hello sends the server's hello and reads the client's, choosing the
// framing: chunked when both announce base:1.1.
func (ss *session) hello() error {
	var w xmltree.Writer
	w.Start(baseNS, "hello")
	w.Start(baseNS, "capabilities")
	for _, c := range ss.srv.capabilities() {
		w.Leaf(baseNS, "capability", c)
	}
	w.End()
	w.Leaf(baseNS, "session-id", strconv.FormatUint(uint64(ss.id), 10))
	w.End()
	if err := ss.w.WriteMessage(append([]byte(xmlDecl), w.Bytes()...)); err != nil {
		return err
	}
	type result struct {
		msg []byte
		err error
	}
	got := make(chan result, 1)
	go func() { m, err := ss.r.ReadHello(); got <- result{m, err} }()
	var msg []byte
	select {
	case r := <-got:
		if r.err != nil {
			return fmt.Errorf("reading the client hello: %w", r.err)
		}
		msg = r.msg
	case <-time.After(60 * time.Second):
		return errors.New("no client hello within 60 s")
	}
	el, err := xmltree.Parse(msg)
	if err != nil {
		return fmt.Errorf("client hello: %w", err)
	}
	if el.Name.Space != baseNS || el.Name.Local != "hello" {
		return fmt.Errorf("client sent <%s> in %q before <hello>", el.Name.Local, el.Name.Space)
	}
	if el.Child(baseNS, "session-id") != nil {
		return errors.New("client hello carries a session-id (RFC 6241 8.1)")
	}
	caps := el.Child(baseNS, "capabilities")
	if caps == nil {
		return errors.New("client hello has no capabilities")
	}
	var base10, base11 bool
	for _, c := range caps.Children {
		switch strings.TrimSpace(c.Text) {
		case capBase10:
			base10 = true
		case capBase11:
			base11 = true
		}
	}
	switch {
	case base11:
		ss.r.SetChunked()
		ss.w.SetChunked()
	case !base10:
		return errors.New("client announces neither base:1.0 nor base:1.1")
	}
	ss.srv.log.Debug("NETCONF hello", "session", ss.id, "base", map[bool]string{true: "1.1", false: "1.0"}[base11])
	return nil
}

const xmlDecl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// handle serves one message; it reports whether the session must end.
func (ss *session) handle(ctx context.Context, msg []byte) bool {
	ss.srv.stats.inRPCs.Add(1)
	ss.inRPCs.Add(1)
	el, err := xmltree.Parse(msg)
	if err != nil {
		ss.bad()
		e := protoErr("malformed-message", "%v", err)
		e.Type = "rpc"
		ss.reply(nil, nil, errorList{e})
		return false
	}
	if el.Name.Space != baseNS || el.Name.Local != "rpc" {
		ss.bad()
		e := protoErr("unknown-element", "expected <rpc> in namespace %s, got <%s> in %q", baseNS, el.Name.Local, el.Name.Space)
		e.Type = "rpc"
		e.Info = [][2]string{{"bad-element", el.Name.Local}}
		ss.reply(el, nil, errorList{e})
		return false
	}
	if _, ok := el.Attr("", "message-id"); !ok {
		ss.bad()
		e := &rpcError{Type: "rpc", Tag: "missing-attribute", Message: "<rpc> has no message-id attribute",
			Info: [][2]string{{"bad-attribute", "message-id"}, {"bad-element", "rpc"}}}
		ss.reply(el, nil, errorList{e})
		return false
	}
	if len(el.Children) != 1 {
		ss.bad()
		e := protoErr("malformed-message", "<rpc> must hold exactly one operation, it holds %d", len(el.Children))
		e.Type = "rpc"
		ss.reply(el, nil, errorList{e})
		return false
	}
	op := el.Children[0]
	body, closing, err := ss.dispatch(ctx, op)
	if err != nil {
		ss.reply(el, nil, ss.srv.toRPCErrors(err, op.Name.Local == "lock" && op.Name.Space == baseNS, ss.srv.sessionOf))
		return false
	}
	ss.reply(el, body, nil)
	if f := ss.afterReply; f != nil {
		ss.afterReply = nil
		f()
	}
	return closing
}

func (ss *session) bad() {
	ss.srv.stats.inBadRPCs.Add(1)
	ss.inBadRPCs.Add(1)
}

// reply sends an rpc-reply echoing the rpc's attributes, with body (nil:
// <ok/>) or the errors.
func (ss *session) reply(rpc *xmltree.Element, body []byte, errs errorList) {
	var w xmltree.Writer
	var attrs []xml.Attr
	if rpc != nil {
		attrs = rpc.Attrs
	}
	w.Start(baseNS, "rpc-reply", attrs...)
	switch {
	case len(errs) > 0:
		ss.srv.stats.outRPCErrors.Add(1)
		ss.outErrors.Add(1)
		for _, e := range errs {
			writeRPCError(&w, e)
		}
	case body == nil:
		w.Start(baseNS, "ok")
		w.End()
	default:
		w.Raw(body)
	}
	w.End()
	if err := ss.w.WriteMessage(append([]byte(xmlDecl), w.Bytes()...)); err != nil {
		ss.srv.log.Info("NETCONF reply failed", "session", ss.id, "err", err)
		ss.close()
	}
}

// send writes one message (a notification) outside the rpc flow.
func (ss *session) send(msg []byte) error {
	return ss.w.WriteMessage(append([]byte(xmlDecl), msg...))
}

// text returns the trimmed text of the named child of el in namespace
// ns, "" when absent.
func text(el *xmltree.Element, ns, name string) string {
	if c := el.Child(ns, name); c != nil {
		return strings.TrimSpace(c.Text)
	}
	return ""
}

// xmlBody renders a reply body with w's helper.
func xmlBody(f func(w *xmltree.Writer)) []byte {
	var w xmltree.Writer
	f(&w)
	return bytes.Clone(w.Bytes())
}
