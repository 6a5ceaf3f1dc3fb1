package fsm

// candidate is one unit as the election sees it; both units build the same
// candidates from the same heartbeat data.
type candidate struct {
	serial   string
	desig    Designation
	eligible bool
	forced   Forced
	quality  int
	priority int
	links    Links
}

func candidateOf(p PeerState) candidate {
	return candidate{
		serial: p.Serial, desig: p.Designation, eligible: p.eligible(), forced: p.Forced,
		quality: p.Quality, priority: p.Priority, links: p.Links,
	}
}

// better says whether a should be active rather than b when neither is. The
// order is total and antisymmetric on distinct serials: better(a, b) ==
// !better(b, a), so two units with the same data always agree.
// SPEC: ROLE-1, ROLE-5, DET-3, DET-4, DET-6
func better(a, b candidate, ifaces []Interface) bool {
	if a.eligible != b.eligible {
		return a.eligible
	}
	if fa, fb := a.forced == ForcedActive, b.forced == ForcedActive; fa != fb {
		return fa
	}
	aWorse, _ := worseOn(ifaces, a.links, b.links)
	bWorse, _ := worseOn(ifaces, b.links, a.links)
	if aWorse != bWorse {
		return bWorse
	}
	if a.quality != b.quality {
		return a.quality > b.quality
	}
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	if a.desig != b.desig {
		return a.desig == Primary
	}
	return a.serial <= b.serial
}

// worseOn says whether x lost a monitored link or probe that y has, and which
// reason to give: physical monitoring first (DET-3), then probes (DET-4). A
// failure seen by both units is never a reason (both down, both fail).
func worseOn(ifaces []Interface, x, y Links) (bool, Reason) {
	probe := false
	for _, f := range ifaces {
		xs, ys := x[f.Name], y[f.Name]
		if f.Physical && !xs.Up && ys.Up {
			return true, ReasonLinkMonitor
		}
		if f.Probe && !xs.ProbeOK && ys.ProbeOK {
			probe = true
		}
	}
	if probe {
		return true, ReasonProbeMonitor
	}
	return false, ""
}
