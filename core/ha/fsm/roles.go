package fsm

import (
	"fmt"
	"time"
)

// evaluate brings everything derived up to date after an input and decides
// the role. It is level-triggered: the same state gives the same decision.
func (m *Machine) evaluate(out []Output) []Output {
	out = m.updateLiveness(out)
	out = m.updateQuality(out)
	m.updatePeerGood()
	m.confirmActive()
	yieldsBack := m.peer.Yield && m.peer.AckBoot.Equal(m.boot) && m.peer.Ack >= m.handoverAt
	if !m.peerAlive || m.refused || m.peer.Role == RoleActive || !m.peer.eligible() || yieldsBack {
		// Nothing to hand over to, it has taken over, or it yields back
		// after seeing us step down (its data disagrees): the election
		// decides again.
		m.handoverTo = ""
	}
	for range 3 { // a decision can enable one more (faulted -> standby -> active)
		var changed bool
		out, changed = m.decide(out)
		if !changed {
			break
		}
	}
	return out
}

func (m *Machine) updateQuality(out []Output) []Output {
	q := m.computeQuality()
	if q != m.quality {
		out = append(out, Event{Kind: EventQualityChange, Detail: qualityDetail(m.quality, q)})
		m.quality = q
	}
	return out
}

// updatePeerGood tracks since when the peer has been a verified healthy
// standby, for the hold time of give-back (ROLE-3): eligible, and with a
// quality not lower than this unit's, so that the hold starts when a
// recovered unit is whole again, not when it became standby.
func (m *Machine) updatePeerGood() {
	good := m.peerAlive && !m.refused && m.peer.Role == RoleStandby && m.peer.eligible() &&
		m.peer.Quality >= m.quality
	if good && !m.peerGood {
		m.goodSince = m.now
	}
	m.peerGood = good
}

// decide makes at most one role decision and reports whether it did.
func (m *Machine) decide(out []Output) ([]Output, bool) {
	start := len(out)
	switch m.role {
	case RoleInitializing:
		out = m.decideInitializing(out)
	case RoleStandby, RoleFaulted:
		out = m.decideStandby(out)
	case RoleActive:
		out = m.decideActive(out)
	}
	return out, hasRoleChange(out[start:])
}

// SPEC: ROLE-2
func (m *Machine) decideInitializing(out []Output) []Output {
	if m.peerAlive && !m.refused && m.peer.Role == RoleActive {
		out = m.abortActivation(out)
		return m.setRole(RoleStandby, ReasonActivePeer, out)
	}
	if m.now.Before(m.windowEnd()) {
		return out
	}
	if !m.serviceOK {
		return m.setRole(RoleFaulted, ReasonServiceFault, out)
	}
	if why, ok := m.canTake(); ok {
		return m.beginActive(why, out)
	}
	out = m.abortActivation(out)
	return m.setRole(RoleStandby, ReasonStartupDone, out)
}

// windowEnd is when a starting unit stops looking for an active peer:
// election-delay plus one heartbeat timeout after boot (ROLE-2).
func (m *Machine) windowEnd() time.Time {
	return m.boot.Add(m.cfg.ElectionDelay + m.cfg.Timeout())
}

// SPEC: DET-1, DET-5, DET-7
func (m *Machine) decideStandby(out []Output) []Output {
	if !m.serviceOK {
		out = m.abortActivation(out)
		return m.setRole(RoleFaulted, ReasonServiceFault, out)
	}
	if m.role == RoleFaulted {
		return m.setRole(RoleStandby, ReasonServiceRecovered, out)
	}
	if why, ok := m.canTake(); ok {
		return m.beginActive(why, out)
	}
	return m.abortActivation(out)
}

// canTake says whether this unit may become active now, and why.
// SPEC: DET-1, DET-2, DET-7, MODE-5, ROLE-4
func (m *Machine) canTake() (Reason, bool) {
	if m.forced == ForcedStandby || !m.serviceOK {
		return "", false
	}
	if !m.peerAlive {
		if !m.peerKnown {
			return ReasonNoPeer, true
		}
		// A yield of ours the peer may still act on: wait one more timeout,
		// so that our revocation (sent as soon as the peer was lost)
		// reaches it before we take the role ourselves.
		if m.yieldOutstanding() && m.now.Sub(m.lastHeard()) < 2*m.cfg.Timeout() {
			return "", false
		}
		return ReasonPeerDead, true
	}
	p := m.peer
	switch {
	case m.refused, p.Role == RoleActive, !p.Yield:
		return "", false
	case !p.AckBoot.Equal(m.boot) || p.Ack <= m.lastYieldSeq:
		return "", false // the peer may still act on a yield of ours
	case m.wantYield():
		return "", false
	}
	return ReasonPeerYielded, true
}

// wantYield says whether our next heartbeat lets the peer become active.
func (m *Machine) wantYield() bool {
	switch {
	case m.role == RoleActive, m.activating, !m.peerAlive, m.refused:
		return false
	case m.peer.Role == RoleActive, !m.peer.eligible():
		return false
	case m.handoverTo != "" && m.handoverTo == m.peer.Serial:
		return true
	case m.peer.Yield:
		return false // the peer yields to us: accept rather than yield back
	}
	return !better(m.candidate(), candidateOf(m.peer), m.cfg.Interfaces)
}

// candidate describes this unit for the election, as the peer sees it.
func (m *Machine) candidate() candidate {
	return candidate{
		serial: m.cfg.Serial, desig: m.cfg.Designation,
		eligible: (m.role == RoleStandby || m.role == RoleActive) && m.forced != ForcedStandby && m.serviceOK,
		forced:   m.forced, quality: m.quality, priority: m.cfg.priority(), links: m.links,
	}
}

func (m *Machine) beginActive(why Reason, out []Output) []Output {
	if !m.cfg.ConfirmTakeover {
		return m.setRole(RoleActive, why, out)
	}
	if !m.activating {
		m.activating, m.activateBy = true, why
		out = append(out, PrepareActive{Reason: why})
	}
	return out
}

func (m *Machine) abortActivation(out []Output) []Output {
	if m.activating {
		m.activating = false
		out = append(out, Event{Kind: EventTakeoverAborted, Detail: "the reason to become active went away"})
	}
	return out
}

// onReady completes a held takeover if its decision still holds.
func (m *Machine) onReady(out []Output) []Output {
	if !m.activating {
		return out
	}
	m.activating = false
	why, ok := m.canTake()
	if !ok || (m.role == RoleInitializing && m.now.Before(m.windowEnd())) {
		return append(out, Event{Kind: EventTakeoverAborted, Detail: "the reason to become active went away"})
	}
	return m.setRole(RoleActive, why, out)
}

func hasRoleChange(out []Output) bool {
	for _, o := range out {
		if _, ok := o.(RoleChange); ok {
			return true
		}
	}
	return false
}

func qualityDetail(from, to int) string {
	return fmt.Sprintf("quality %d%% -> %d%%", from, to)
}

// yieldOutstanding says whether the peer may not yet have seen that we took
// back our last yield.
func (m *Machine) yieldOutstanding() bool {
	return m.lastYieldSeq > 0 && (!m.peer.AckBoot.Equal(m.boot) || m.peer.Ack <= m.lastYieldSeq)
}

// lastHeard is when the last heartbeat came on any path.
func (m *Machine) lastHeard() time.Time {
	var t time.Time
	for _, ps := range m.paths {
		if ps.last.After(t) {
			t = ps.last
		}
	}
	return t
}
