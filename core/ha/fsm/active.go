package fsm

// decideActive steps the active unit down when it must, and says for whom.
// SPEC: DET-3, DET-4, DET-5, DET-6, ROLE-3, ROLE-4, ROLE-5
func (m *Machine) decideActive(out []Output) []Output {
	why, handover, ok := m.stepDown()
	if !ok {
		return out
	}
	to := RoleStandby
	if !m.serviceOK {
		to = RoleFaulted
	}
	switch why {
	case ReasonDualActive:
		out = append(out, Event{Kind: EventDualActive, Detail: "peer " + m.peer.Serial + " is active too; both step down and re-elect"})
	case ReasonPreempt, ReasonPriority:
		out = append(out, Event{Kind: EventPreempt, Detail: string(why)})
	}
	out = m.setRole(to, why, out)
	if handover {
		m.handoverTo, m.handoverAt = m.peer.Serial, m.seq+1
	}
	return out
}

// stepDown says whether the active unit must step down, why, and whether it
// hands over to the peer (yields until the peer is active).
func (m *Machine) stepDown() (Reason, bool, bool) {
	usable := m.peerAlive && !m.refused && m.peer.eligible() && m.peer.Role != RoleActive
	switch {
	case m.forced == ForcedStandby:
		return ReasonForced, usable, true
	case !m.serviceOK:
		return ReasonServiceFault, usable, true
	case m.peerAlive && !m.refused && m.peer.Role == RoleActive:
		return ReasonDualActive, false, true
	case m.unconfirmed():
		return ReasonUnconfirmed, false, true
	case !usable:
		return "", false, false
	}
	return m.prefersPeer()
}

// prefersPeer compares this active unit with the usable standby peer level
// by level; the first level that tells them apart decides, so a handover
// for one reason is never undone by the next level (no flapping): forced
// active, then link and probe monitoring, then quality beyond the
// hysteresis, then give-back.
func (m *Machine) prefersPeer() (Reason, bool, bool) {
	if fa, fb := m.forced == ForcedActive, m.peer.Forced == ForcedActive; fa != fb {
		return ReasonPeerForced, fb, fb
	}
	meWorse, why := worseOn(m.cfg.Interfaces, m.links, m.peer.Links)
	peerWorse, _ := worseOn(m.cfg.Interfaces, m.peer.Links, m.links)
	if meWorse != peerWorse {
		return why, meWorse, meWorse
	}
	if m.peer.Quality > m.quality+m.cfg.Hysteresis {
		return ReasonQuality, true, true
	}
	if why, ok := m.giveBack(); ok {
		return why, true, true
	}
	return "", false, false
}

// giveBack says whether the peer is the preferred unit and has earned the
// role back: quality not lower, bulk sync complete, a healthy standby for
// the hold time. The preferred unit is the one with the higher priority
// (ROLE-5), else the primary when preempt is on (ROLE-3).
func (m *Machine) giveBack() (Reason, bool) {
	var why Reason
	switch p := m.peer; {
	case p.Priority != m.cfg.priority():
		if p.Priority < m.cfg.priority() {
			return "", false
		}
		why = ReasonPriority
	case m.cfg.Preempt && p.Designation == Primary && m.cfg.Designation == Secondary:
		why = ReasonPreempt
	default:
		return "", false
	}
	ok := m.peer.Quality >= m.quality && m.peer.BulkSyncComplete &&
		m.peerGood && m.now.Sub(m.goodSince) >= m.cfg.PreemptHoldTime
	return why, ok
}

// onAdmin applies an admin command (ROLE-4, manual failover).
// SPEC: ROLE-4
func (m *Machine) onAdmin(cmd Command, out []Output) []Output {
	switch cmd {
	case CmdForceActive:
		return m.setForced(ForcedActive, out)
	case CmdForceStandby:
		return m.setForced(ForcedStandby, out)
	case CmdReset:
		return m.setForced(ForcedNone, out)
	case CmdFailover:
		return m.failover(out)
	}
	return out
}

func (m *Machine) setForced(f Forced, out []Output) []Output {
	if f == m.forced {
		return out
	}
	m.forced = f
	return append(out, Event{Kind: EventForced, Detail: "forced status " + string(f)})
}

// failover is the manual switchover: the active hands over if the peer can
// take the role.
func (m *Machine) failover(out []Output) []Output {
	refuse := func(why string) []Output {
		return append(out, Event{Kind: EventFailoverRefused, Detail: why})
	}
	switch {
	case m.role != RoleActive:
		return refuse("this unit is not active")
	case m.forced == ForcedActive:
		return refuse("this unit is forced active; reset it first")
	case !m.peerAlive:
		return refuse("no peer")
	case m.refused:
		return refuse(m.pairReason)
	case !m.peer.eligible() || m.peer.Role == RoleActive:
		return refuse("the peer cannot take the active role (" + string(m.peer.Role) + ", forced " + string(m.peer.Forced) + ")")
	}
	out = m.setRole(RoleStandby, ReasonAdminFailover, out)
	m.handoverTo, m.handoverAt = m.peer.Serial, m.seq+1
	return out
}

// onConfig takes a new configuration in.
func (m *Machine) onConfig(cfg Config, out []Output) []Output {
	cfg = cfg.normalized()
	old := m.cfg
	m.cfg = cfg
	if cfg.Forced != old.Forced {
		out = m.setForced(cfg.Forced, out)
	}
	if cfg.StatefulSync && !old.StatefulSync {
		m.syncDone = false
	}
	if m.peerKnown && (cfg.Model != old.Model || cfg.Firmware != old.Firmware) {
		out = m.checkPairing(out)
	}
	return out
}

// unconfirmed says whether this unit, active because the peer was silent,
// hears the peer again without knowing that the peer is not taking over at
// the same time: the peer is an eligible standby that neither yields to us
// nor has acknowledged a heartbeat of our current active stint. Stale
// heartbeats of a peer that timed out like us look exactly like this; both
// step down and re-elect rather than risk two actives.
func (m *Machine) unconfirmed() bool {
	p := m.peer
	if !m.byTimeout || !m.peerAlive || m.refused || p.Role != RoleStandby || !p.eligible() {
		return false
	}
	return !(p.Yield && p.AckBoot.Equal(m.boot))
}

// confirmActive ends the doubt of unconfirmed once the peer has
// acknowledged a heartbeat of our current active stint.
func (m *Machine) confirmActive() {
	if m.role == RoleActive && m.peer.AckBoot.Equal(m.boot) && m.peer.Ack >= m.activeFrom {
		m.byTimeout = false
	}
}
