package netconf

import (
	"sort"
	"strconv"
	"time"

	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

// subscription is a session's RFC 5277 subscription to the NETCONF
// stream, which carries the HA event log.
type subscription struct {
	stop chan struct{}
	done chan struct{}
}

// eventNode renders an event as the <ha-event> notification content in
// the tandem-system namespace.
func eventNode(e telemetry.Event) *xmltree.Node {
	n := container(systemNS, "ha-event",
		leaf(systemNS, "sequence", strconv.FormatUint(e.Seq, 10)),
		leaf(systemNS, "type", e.Type),
		leaf(systemNS, "severity", e.Severity),
		leaf(systemNS, "message", e.Message))
	keys := make([]string, 0, len(e.Attrs))
	for k := range e.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n.Children = append(n.Children, container(systemNS, "attribute", leaf(systemNS, "name", k), leaf(systemNS, "value", e.Attrs[k])))
	}
	return n
}

func notification(at time.Time, body func(w *xmltree.Writer)) []byte {
	return xmlBody(func(w *xmltree.Writer) {
		w.Start(notifNS, "notification")
		w.Leaf(notifNS, "eventTime", at.UTC().Format(time.RFC3339Nano))
		body(w)
		w.End()
	})
}

func parseTime(op *xmltree.Element, name string) (time.Time, bool, error) {
	v := text(op, notifNS, name)
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, badElement(name, "%s %q is not a date-and-time such as 2026-11-21T10:00:00Z", name, v)
	}
	return t, true, nil
}

// createSubscription is <create-subscription> (RFC 5277 section 2.1.1)
// on the NETCONF stream: the HA event log, replayed from startTime when
// given, live afterwards until stopTime or the end of the session.
func (ss *session) createSubscription(op *xmltree.Element) error {
	if st := text(op, notifNS, "stream"); st != "" && st != "NETCONF" {
		return badElement("stream", "stream %q does not exist; tandem has the NETCONF stream", st)
	}
	start, hasStart, err := parseTime(op, "startTime")
	if err != nil {
		return err
	}
	stop, hasStop, err := parseTime(op, "stopTime")
	if err != nil {
		return err
	}
	switch {
	case hasStop && !hasStart:
		return badElement("stopTime", "stopTime needs a startTime")
	case hasStart && start.After(time.Now()):
		return badElement("startTime", "startTime %s is in the future", start.Format(time.RFC3339))
	case hasStop && stop.Before(start):
		return badElement("stopTime", "stopTime is before startTime")
	}
	f := op.Child(notifNS, "filter")
	if f != nil { // check the filter now, so that a bad one fails the rpc
		if _, err := applyFilter(nil, f); err != nil {
			return err
		}
	}
	ss.subMu.Lock()
	defer ss.subMu.Unlock()
	if ss.sub != nil {
		return appErr("operation-failed", "this session already has a subscription; open another session for a second one")
	}
	sub := &subscription{stop: make(chan struct{}), done: make(chan struct{})}
	ss.sub = sub
	events, cancel := ss.srv.b.Events.Subscribe()
	ss.afterReply = func() {
		go ss.stream(sub, events, cancel, f, start, hasStart, stop, hasStop)
	}
	return nil
}

// stream sends the replayed and live events of a subscription.
func (ss *session) stream(sub *subscription, events <-chan telemetry.Event, cancel func(), f *xmltree.Element,
	start time.Time, replay bool, stop time.Time, hasStop bool) {
	defer close(sub.done)
	defer func() { cancel() }()
	var last uint64
	send := func(e telemetry.Event) bool {
		if e.Seq <= last {
			return true
		}
		last = e.Seq
		if hasStop && e.Time.After(stop) {
			return true
		}
		n := eventNode(e)
		if f != nil {
			sel, err := applyFilter([]*xmltree.Node{n}, f)
			if err != nil || len(sel) == 0 {
				return true
			}
		}
		msg := notification(e.Time, func(w *xmltree.Writer) { ss.srv.schema.WriteNodes(w, []*xmltree.Node{n}) })
		if err := ss.send(msg); err != nil {
			return false
		}
		ss.outNotif.Add(1)
		ss.srv.stats.outNotif.Add(1)
		return true
	}
	if replay {
		for _, e := range ss.srv.b.Events.List(0, 0) {
			if !e.Time.Before(start) && !send(e) {
				return
			}
		}
		if ss.send(notification(time.Now(), func(w *xmltree.Writer) { w.Start(nmNotifNS, "replayComplete"); w.End() })) != nil {
			return
		}
	}
	var stopC <-chan time.Time
	if hasStop {
		t := time.NewTimer(time.Until(stop))
		defer t.Stop()
		stopC = t.C
	}
	for {
		select {
		case <-sub.stop:
			return
		case <-stopC:
			_ = ss.send(notification(time.Now(), func(w *xmltree.Writer) { w.Start(nmNotifNS, "notificationComplete"); w.End() }))
			ss.subMu.Lock()
			if ss.sub == sub {
				ss.sub = nil
			}
			ss.subMu.Unlock()
			return
		case e, ok := <-events:
			if !ok {
				// Dropped for falling behind: catch up from the log.
				cancel()
				events, cancel = ss.srv.b.Events.Subscribe()
				for _, e := range ss.srv.b.Events.List(last, 0) {
					if !send(e) {
						return
					}
				}
				continue
			}
			if !send(e) {
				return
			}
		}
	}
}

// stopSubscription ends the session's subscription and waits for its
// sender.
func (ss *session) stopSubscription() {
	ss.subMu.Lock()
	sub := ss.sub
	ss.sub = nil
	ss.subMu.Unlock()
	if sub != nil {
		close(sub.stop)
		<-sub.done
	}
}
