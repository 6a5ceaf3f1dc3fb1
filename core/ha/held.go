package ha

import (
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/ha/probe"
)

// Ports held down on the passive unit (TKO-6). With
// aggregates-up-on-passive false, a unit that is not active holds its link
// aggregates administratively down (HeldDownOnPassive) and so cannot
// observe them. Counted as they are, they would lower its quality factor
// (DET-6) and make it look worse than the active on those ports
// (DET-3/DET-4): the active would then never hand over for a failure of
// its own aggregate. So while this unit is not active a held port counts
// as healthy (carrier up, probe answered), unless the unit saw it fail the
// last time it was active: that memory keeps two units whose aggregates
// are both dead (their switch is down) from handing the role back and
// forth. For the settle time after becoming active the held ports still
// count that way, while the aggregate comes up and LACP negotiates; after
// it their observed state counts.
//
// The price: a passive unit sees neither a failure nor a repair of its
// aggregates until it is active again, so the pair may hand over to a unit
// whose aggregate is dead and learn it only then. That is why the option
// defaults on.

// aggregateSettle is how long the held ports of a unit that became active
// still count as before: time for the links to come up and for LACP to
// aggregate them (a few seconds at the fast LACP rate).
const aggregateSettle = 10 * time.Second

// settleTime is aggregateSettle, plus one probe round when a held port is
// probed, since its probe can only be answered once the aggregate is up;
// zero without held ports.
func settleTime(held map[string]bool, probes []probe.Target, timing probe.Config) time.Duration {
	if len(held) == 0 {
		return 0
	}
	for _, p := range probes {
		if held[p.Port] {
			return aggregateSettle + timing.Interval + timing.Timeout
		}
	}
	return aggregateSettle
}

// linkInputs is the machine's view of the monitored ports: the observed
// carrier (local) and probe results (probeOK), except that while holding
// a held port counts as remembered, else as healthy.
func linkInputs(s setup, local, probeOK map[string]bool, holding bool, remembered fsm.Links) fsm.Links {
	links := fsm.Links{}
	for _, ifc := range s.machine.Interfaces {
		st := fsm.LinkStatus{Up: local[ifc.Name], ProbeOK: probeOK[ifc.Name]}
		if holding && s.held[ifc.Name] {
			st = fsm.LinkStatus{Up: true, ProbeOK: true}
			if r, ok := remembered[ifc.Name]; ok {
				st = r
			}
		}
		links[ifc.Name] = st
	}
	return links
}

// observedHeld is the observed state of the held ports, what a unit
// remembers of them when it stops being active.
func observedHeld(held, local, probeOK map[string]bool) fsm.Links {
	out := fsm.Links{}
	for p := range held {
		out[p] = fsm.LinkStatus{Up: local[p], ProbeOK: probeOK[p]}
	}
	return out
}

// holding reports whether the held ports count as remembered or healthy
// at now: while this unit is not active, and during the settle time after
// it became active.
func (e *Engine) holding(now time.Time) bool {
	return e.machine.Role() != fsm.RoleActive || now.Before(e.settleUntil)
}

// roleChanged keeps the held ports' bookkeeping: a unit that stops being
// active after its settle time remembers their observed state; one that
// becomes active starts its settle time. Either way the machine's view of
// the links is refreshed before the next input.
func (e *Engine) roleChanged(from, to fsm.Role, now time.Time) {
	if from == fsm.RoleActive && !now.Before(e.settleUntil) {
		e.remembered = observedHeld(e.setup.held, e.local, e.probeOK)
	}
	e.settleUntil = time.Time{}
	if to == fsm.RoleActive && e.setup.settle > 0 {
		e.settleUntil = now.Add(e.setup.settle)
	}
	e.relink = true
}

// endSettle lets the held ports' observed state count once the settle
// time is over.
func (e *Engine) endSettle(now time.Time) {
	if !e.settleUntil.IsZero() && !now.Before(e.settleUntil) {
		e.settleUntil = time.Time{}
		e.relink = true
	}
}
