package gnmi

import (
	"errors"
	"io"
	"sort"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/protobuf/proto"
)

// MinInterval is the shortest sample_interval and heartbeat_interval
// tandem accepts; a sample_interval of 0 means this one (the lowest the
// target supports, as gNMI asks).
const MinInterval = 100 * time.Millisecond

// sub is one subscription of a SubscriptionList.
type sub struct {
	pat       *pattern
	sample    bool          // SAMPLE; otherwise on change
	interval  time.Duration // SAMPLE
	suppress  bool          // SAMPLE: only what changed since the last sample
	heartbeat time.Duration // 0: none
	next      time.Time     // SAMPLE: next sample
	nextBeat  time.Time     // next heartbeat
	// sent is what the last sample sent (SAMPLE): the values compared by
	// suppress_redundant, and the leaves whose disappearance is a delete.
	sent map[string]leaf
}

// session is one Subscribe stream.
type session struct {
	s           *gnmiService
	stream      gpb.GNMI_SubscribeServer
	prefix      *gpb.Path // target echoed in every notification
	enc         gpb.Encoding
	updatesOnly bool
	subs        []*sub
}

// Subscribe serves ONCE, POLL and STREAM subscriptions.
func (s *gnmiService) Subscribe(stream gpb.GNMI_SubscribeServer) error {
	if err := checkRead(stream.Context(), "gNMI Subscribe"); err != nil {
		return err
	}
	req, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	list := req.GetSubscribe()
	if list == nil {
		return invalidf("the first SubscribeRequest must carry a subscribe (SubscriptionList)")
	}
	ss, err := s.newSession(stream, list)
	if err != nil {
		return err
	}
	s.log.Debug("subscribe", "user", principalOf(stream.Context()).User, "from", sourceIP(stream.Context()),
		"mode", list.GetMode().String(), "subscriptions", len(ss.subs), "updates_only", ss.updatesOnly)
	switch list.GetMode() {
	case gpb.SubscriptionList_ONCE:
		return ss.once()
	case gpb.SubscriptionList_POLL:
		return ss.poll()
	default:
		return ss.streamLoop()
	}
}

// newSession checks the subscription list.
func (s *gnmiService) newSession(stream gpb.GNMI_SubscribeServer, list *gpb.SubscriptionList) (*session, error) {
	if err := s.checkTarget(list.GetPrefix()); err != nil {
		return nil, err
	}
	if err := checkEncoding(list.GetEncoding()); err != nil {
		return nil, err
	}
	if _, ok := gpb.SubscriptionList_Mode_name[int32(list.GetMode())]; !ok {
		return nil, invalidf("mode %d: not ONCE, POLL or STREAM", list.GetMode())
	}
	if len(list.GetSubscription()) == 0 {
		return nil, invalidf("subscribe: no subscription; give at least one path")
	}
	ss := &session{s: s, stream: stream, enc: list.GetEncoding(), updatesOnly: list.GetUpdatesOnly()}
	if t := list.GetPrefix().GetTarget(); t != "" {
		ss.prefix = &gpb.Path{Target: t}
	}
	for _, sp := range list.GetSubscription() {
		if err := checkOrigin(list.GetPrefix(), sp.GetPath()); err != nil {
			return nil, err
		}
		pat, err := newPattern(list.GetPrefix(), sp.GetPath())
		if err != nil {
			return nil, err
		}
		u := &sub{pat: pat}
		if list.GetMode() == gpb.SubscriptionList_STREAM {
			if err := u.configure(sp); err != nil {
				return nil, err
			}
		}
		ss.subs = append(ss.subs, u)
	}
	return ss, nil
}

// configure reads a STREAM subscription's mode and intervals.
func (u *sub) configure(sp *gpb.Subscription) error {
	hb := time.Duration(sp.GetHeartbeatInterval())
	if hb != 0 && hb < MinInterval {
		return invalidf("subscription %s: heartbeat_interval %v is below the minimum %v", u.pat.text, hb, MinInterval)
	}
	u.heartbeat = hb
	switch sp.GetMode() {
	case gpb.SubscriptionMode_TARGET_DEFINED, gpb.SubscriptionMode_ON_CHANGE:
		// Every leaf of the state tree and the configuration is written
		// when it changes, so target-defined is on change.
		return nil
	case gpb.SubscriptionMode_SAMPLE:
		iv := time.Duration(sp.GetSampleInterval())
		switch {
		case iv == 0:
			iv = MinInterval
		case iv < MinInterval:
			return invalidf("subscription %s: sample_interval %v is below the minimum %v (0 means the minimum)", u.pat.text, iv, MinInterval)
		}
		u.sample, u.interval, u.suppress = true, iv, sp.GetSuppressRedundant()
		return nil
	}
	return invalidf("subscription %s: mode %d is not TARGET_DEFINED, ON_CHANGE or SAMPLE", u.pat.text, sp.GetMode())
}

// current returns the leaves of the configuration and the state tree that
// u matches, sorted by path.
func (ss *session) current(u *sub) ([]leaf, error) {
	return ss.s.read(u.pat, gpb.GetRequest_ALL)
}

func (ss *session) send(r *gpb.SubscribeResponse) error { return ss.stream.Send(r) }

func (ss *session) sendSync() error {
	return ss.send(&gpb.SubscribeResponse{Response: &gpb.SubscribeResponse_SyncResponse{SyncResponse: true}})
}

// sendLeaf sends one leaf's value.
func (ss *session) sendLeaf(elems []*gpb.PathElem, tv *gpb.TypedValue, ts int64) error {
	val, err := leafValue(elems, tv, ss.enc)
	if err != nil {
		return grpcError(err)
	}
	return ss.send(&gpb.SubscribeResponse{Response: &gpb.SubscribeResponse_Update{Update: &gpb.Notification{
		Timestamp: ts, Prefix: ss.prefix,
		Update: []*gpb.Update{{Path: &gpb.Path{Elem: elems}, Val: val}},
	}}})
}

// sendDelete sends the removal of a leaf.
func (ss *session) sendDelete(elems []*gpb.PathElem, ts int64) error {
	return ss.send(&gpb.SubscribeResponse{Response: &gpb.SubscribeResponse_Update{Update: &gpb.Notification{
		Timestamp: ts, Prefix: ss.prefix, Delete: []*gpb.Path{{Elem: elems}},
	}}})
}

// sendCurrent sends the current value of every leaf the subscriptions
// match (each leaf once) and records what SAMPLE subscriptions sent.
func (ss *session) sendCurrent(subs []*sub) error {
	seen := map[string]bool{}
	for _, u := range subs {
		leaves, err := ss.current(u)
		if err != nil {
			return grpcError(err)
		}
		if u.sample {
			u.sent = make(map[string]leaf, len(leaves))
		}
		for _, l := range leaves {
			k := l.key
			if u.sample {
				u.sent[k] = l
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			if err := ss.sendLeaf(l.elems, l.val, l.ts); err != nil {
				return err
			}
		}
	}
	return nil
}

// once sends the current values and sync_response, and ends.
func (ss *session) once() error {
	if !ss.updatesOnly {
		if err := ss.sendCurrent(ss.subs); err != nil {
			return err
		}
	}
	return ss.sendSync()
}

// poll sends the current values (unless updates_only) and sync_response,
// then again for every poll request, until the client closes.
func (ss *session) poll() error {
	if !ss.updatesOnly {
		if err := ss.sendCurrent(ss.subs); err != nil {
			return err
		}
	}
	if err := ss.sendSync(); err != nil {
		return err
	}
	for {
		req, err := ss.stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetPoll() == nil {
			return invalidf("a POLL subscription takes poll requests only")
		}
		if err := ss.sendCurrent(ss.subs); err != nil {
			return err
		}
		if err := ss.sendSync(); err != nil {
			return err
		}
	}
}

// streamLoop serves a STREAM subscription: the initial values (unless
// updates_only) and sync_response, then changes as they happen, samples
// and heartbeats as they fall due, until the client goes away.
func (ss *session) streamLoop() error {
	ctx := ss.stream.Context()
	sk := &sink{q: newQueue()}
	for _, u := range ss.subs {
		if !u.sample {
			sk.patterns = append(sk.patterns, u.pat)
		}
	}
	if len(sk.patterns) > 0 {
		// Registered before the initial values are read, so that no
		// change falls between the two.
		defer ss.s.hub.add(sk)()
	}
	if !ss.updatesOnly {
		if err := ss.sendCurrent(ss.subs); err != nil {
			return err
		}
	}
	now := time.Now()
	for _, u := range ss.subs {
		if u.sample {
			u.next = now.Add(u.interval)
		}
		if u.heartbeat > 0 {
			u.nextBeat = now.Add(u.heartbeat)
		}
	}
	if err := ss.sendSync(); err != nil {
		return err
	}
	recvErr := make(chan error, 1)
	go func() {
		_, err := ss.stream.Recv()
		if errors.Is(err, io.EOF) {
			return // the client closed its side; keep streaming
		}
		if err == nil {
			err = invalidf("a STREAM subscription takes no further requests")
		}
		recvErr <- err
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		ss.armTimer(timer)
		select {
		case <-ctx.Done():
			return nil
		case err := <-recvErr:
			return err
		case <-sk.q.ready:
			for _, c := range sk.q.take() {
				var err error
				if c.delete {
					err = ss.sendDelete(c.elems, c.ts)
				} else {
					err = ss.sendLeaf(c.elems, c.val, c.ts)
				}
				if err != nil {
					return err
				}
			}
		case <-timer.C:
			if err := ss.due(time.Now()); err != nil {
				return err
			}
		}
	}
}

// armTimer sets timer to the next sample or heartbeat.
func (ss *session) armTimer(timer *time.Timer) {
	var next time.Time
	for _, u := range ss.subs {
		for _, t := range []time.Time{u.next, u.nextBeat} {
			if !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	if !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
	if next.IsZero() {
		timer.Reset(time.Hour)
		return
	}
	timer.Reset(time.Until(next))
}

// due takes the samples and heartbeats that have fallen due by now.
func (ss *session) due(now time.Time) error {
	for _, u := range ss.subs {
		beat := u.heartbeat > 0 && !now.Before(u.nextBeat)
		if beat {
			u.nextBeat = later(u.nextBeat, u.heartbeat, now)
		}
		switch {
		case u.sample && !now.Before(u.next):
			u.next = later(u.next, u.interval, now)
			if err := ss.takeSample(u, beat || !u.suppress); err != nil {
				return err
			}
		case !u.sample && beat:
			if err := ss.sendCurrent([]*sub{u}); err != nil {
				return err
			}
		}
	}
	return nil
}

// later advances t by step until it is after now.
func later(t time.Time, step time.Duration, now time.Time) time.Time {
	for !t.After(now) {
		t = t.Add(step)
	}
	return t
}

// takeSample sends u's leaves: all of them when all is set, otherwise
// only those that changed since the last sample (suppress_redundant);
// leaves gone since are deleted.
func (ss *session) takeSample(u *sub, all bool) error {
	leaves, err := ss.current(u)
	if err != nil {
		return grpcError(err)
	}
	now := time.Now().UnixNano()
	sent := make(map[string]leaf, len(leaves))
	for _, l := range leaves {
		k := l.key
		sent[k] = l
		if prev, ok := u.sent[k]; ok && !all && proto.Equal(prev.val, l.val) {
			continue
		}
		if err := ss.sendLeaf(l.elems, l.val, now); err != nil {
			return err
		}
	}
	var gone []string
	for k := range u.sent {
		if _, ok := sent[k]; !ok {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		if err := ss.sendDelete(u.sent[k].elems, now); err != nil {
			return err
		}
	}
	u.sent = sent
	return nil
}
