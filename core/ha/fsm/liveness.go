package fsm

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// onHeartbeat records a heartbeat: the path is alive whatever the content;
// the content is taken only if it is newer than what we hold.
// SPEC: DET-1, DET-2
func (m *Machine) onHeartbeat(h Heartbeat, out []Output) []Output {
	if h.Peer.Serial == m.cfg.Serial {
		return out // our own heartbeat looped back
	}
	ps, ok := m.paths[h.Path]
	if !ok {
		ps = &pathState{}
		m.paths[h.Path] = ps
	}
	ps.seen, ps.last = true, m.now
	if !ps.up {
		ps.up = true
		out = append(out, Event{Kind: EventPathUp, Path: h.Path})
	}
	if !m.peerKnown || h.Peer.newerThan(m.peer) {
		if m.peerKnown && h.Peer.Serial != m.peer.Serial {
			m.peerAlive = false // another unit: treat as a new join
		}
		m.peer, m.peerKnown = h.Peer.clone(), true
		out = m.checkPairing(out)
	}
	if !m.peerAlive {
		m.peerAlive = true
		out = append(out, Event{Kind: EventPeerJoined, Detail: m.peer.Serial})
	}
	return out
}

// updateLiveness marks paths down after one heartbeat timeout of silence and
// the peer lost when every path is down.
// SPEC: DET-1, DET-2, DET-7
func (m *Machine) updateLiveness(out []Output) []Output {
	timeout := m.cfg.Timeout()
	alive := false
	for _, p := range slices.Sorted(maps.Keys(m.paths)) {
		ps := m.paths[p]
		if ps.up && m.now.Sub(ps.last) >= timeout {
			ps.up = false
			out = append(out, Event{Kind: EventPathDown, Path: p,
				Detail: fmt.Sprintf("no heartbeat for %s", m.now.Sub(ps.last))})
		}
		alive = alive || ps.up
	}
	if m.peerAlive && !alive {
		m.peerAlive = false
		out = append(out, Event{Kind: EventPeerLost, Detail: m.peer.Serial})
	}
	return out
}

// checkPairing applies MODE-5 to the peer's latest heartbeat: another model
// refuses to pair, another firmware pairs in fail-soft mode.
// SPEC: MODE-5
func (m *Machine) checkPairing(out []Output) []Output {
	p := m.peer
	refused := p.Model != m.cfg.Model
	degraded := !refused && p.Firmware != m.cfg.Firmware
	switch {
	case refused:
		m.pairReason = fmt.Sprintf("model mismatch: this unit is %q, peer %s is %q; the pair will not form",
			m.cfg.Model, p.Serial, p.Model)
		if !m.refused {
			out = append(out, Event{Kind: EventRefuseToPair, Detail: m.pairReason})
		}
	case degraded:
		m.pairReason = fmt.Sprintf("firmware mismatch: this unit runs %q, peer %s runs %q; fail-soft until both match",
			m.cfg.Firmware, p.Serial, p.Firmware)
		if !m.degraded {
			out = append(out, Event{Kind: EventFailSoft, Detail: m.pairReason})
		}
	default:
		m.pairReason = ""
	}
	m.refused, m.degraded = refused, degraded
	return out
}

// NextDeadline is the earliest time after the last input at which the mere
// passing of time changes what the machine decides: a path's heartbeat
// timeout, the end of the startup window, the end of the preempt hold, the
// end of the wait for a revoked yield. The engine steps a Tick then, so
// that a dead peer is declared at its deadline and not at the next
// periodic tick. The zero time means nothing is due.
// SPEC: DET-1, DET-7
func (m *Machine) NextDeadline() time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(m.now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	timeout := m.cfg.Timeout()
	for _, ps := range m.paths {
		if ps.up {
			consider(ps.last.Add(timeout))
		}
	}
	if m.role == RoleInitializing {
		consider(m.windowEnd())
	}
	if m.peerGood {
		consider(m.goodSince.Add(m.cfg.PreemptHoldTime))
	}
	if m.peerKnown && !m.peerAlive && m.yieldOutstanding() {
		consider(m.lastHeard().Add(2 * timeout))
	}
	return next
}
