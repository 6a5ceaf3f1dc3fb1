package stream

import (
	"errors"
	"slices"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// maxRetired is how many earlier sessions of the peer an endpoint remembers, to refuse
// recordings of them.
const maxRetired = 64

// helloInterval bounds the replies to datagrams not addressed to this session.
const helloInterval = 10 * time.Millisecond

// peer is what an endpoint knows about the other unit.
type peer struct {
	// session is the peer's session this endpoint talks to: adopted from an authenticated
	// datagram addressed to this endpoint's own session (the handshake). 0: none yet.
	session   uint64
	retired   []uint64
	window    frame.Window
	up        bool
	lastHeard time.Time
	role      Role
	// bulkComplete is the peer's BulkComplete flag.
	bulkComplete bool
	lastHello    time.Time
}

// receive handles one datagram: framing, source, authentication, session, replay, then
// the payload. Nothing before the replay check changes state except counters.
func (e *Endpoint) receive(d datagram, now time.Time) {
	e.st.DatagramsReceived++
	e.st.BytesReceived += uint64(len(d.b))
	if d.from != e.cfg.Peer {
		e.st.Foreign++
		return
	}
	h, plen, err := frame.ParseHeader(d.b)
	if err != nil {
		e.st.Malformed++
		return
	}
	if h.Sender == e.session {
		e.st.Reflected++
		return
	}
	p, previous, err := e.keys.open(h, plen, d.b)
	switch {
	case errors.Is(err, frame.ErrAuth):
		e.st.BadAuth++
		return
	case err != nil:
		e.st.Malformed++
		return
	case e.cfg.Encrypt && !h.Encrypted:
		e.st.Unencrypted++
		return
	}
	if previous {
		e.st.PreviousKey++
	}
	if h.Receiver != e.session {
		// The sender does not know this session yet (it or this endpoint restarted), or
		// this is a recording. Say who this is; change nothing.
		e.st.Unconfirmed++
		if now.Sub(e.peer.lastHello) >= helloInterval && !slices.Contains(e.peer.retired, h.Sender) {
			e.peer.lastHello = now
			e.sendControl(h.Sender, now)
		}
		return
	}
	if h.Sender != e.peer.session {
		if slices.Contains(e.peer.retired, h.Sender) {
			e.st.Unconfirmed++
			return
		}
		e.adoptPeer(h.Sender, now)
	}
	if err := e.peer.window.Accept(h.Packet); err != nil {
		e.st.Replayed++
		return
	}
	e.peer.lastHeard = now
	if !e.peer.up {
		e.peer.up = true
		e.event(now, EventPeerUp, SeverityInfo, "state sync peer heard", "peer", e.cfg.Peer)
		defer e.sendControl(e.peer.session, now)
	}
	switch h.Type {
	case frame.TypeControl:
		c, err := frame.ParseControl(p)
		if err != nil {
			e.st.Malformed++
			return
		}
		e.onControl(&c, now)
	case frame.TypeData:
		dd, err := frame.ParseData(p)
		if err != nil {
			e.st.Malformed++
			return
		}
		e.onData(&dd, now)
	}
}

// adoptPeer starts talking to a new session of the peer (its first contact, or a restart):
// whatever was under way with the previous session is over.
func (e *Endpoint) adoptPeer(session uint64, now time.Time) {
	if e.peer.session != 0 {
		e.log.Info("state sync: peer restarted", "old", e.peer.session, "new", session)
		e.peer.retired = append(e.peer.retired, e.peer.session)
		if len(e.peer.retired) > maxRetired {
			e.peer.retired = e.peer.retired[1:]
		}
	}
	e.peer.session = session
	e.peer.window = frame.Window{}
	e.peer.role = RoleOther
	e.peer.bulkComplete = false
	e.peer.up = false
	e.tx.stop()
	e.rx.abandon(&e.st)
}

// peerDown: the peer went silent. The active stops sending; when the peer is heard again
// it gets a bulk sync.
func (e *Endpoint) peerDown(now time.Time) {
	e.peer.up = false
	e.peer.role = RoleOther
	e.event(now, EventPeerDown, SeverityWarning, "state sync peer not heard", "for", e.cfg.PeerTimeout)
	e.tx.stop()
}

// onControl takes in the peer's role and, on the active, the acknowledgements.
func (e *Endpoint) onControl(c *frame.Control, now time.Time) {
	if c.Role != e.peer.role {
		e.log.Info("state sync: peer role", "from", e.peer.role, "to", c.Role)
		e.peer.role = c.Role
		if e.role == RoleActive {
			e.tx.stop() // a peer that became standby gets a new bulk sync
		}
	}
	e.peer.bulkComplete = c.BulkComplete
	if e.role != RoleActive || c.Role != RoleStandby || e.tx.gen == 0 {
		return
	}
	if c.BulkRequest && c.Gen >= e.tx.gen {
		e.resync("the standby asked for a bulk sync", now)
		return
	}
	if c.Gen == e.tx.gen {
		e.onAck(c, now)
	}
}

// canSend reports whether records can flow: this unit active, the peer up and standby.
func (e *Endpoint) canSend() bool {
	return e.role == RoleActive && e.peer.up && e.peer.role == RoleStandby && e.conn != nil
}
