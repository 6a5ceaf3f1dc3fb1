package probe

// tracker counts the consecutive losses of every target.
type tracker struct {
	threshold int
	misses    map[Target]int
}

func newTracker(threshold int) *tracker {
	return &tracker{threshold: threshold, misses: map[Target]int{}}
}

// update records one round, in which the targets in answered got their
// reply, and returns the reachability of every port. A target that has
// never answered counts as LossThreshold losses; targets no longer
// probed are forgotten.
func (k *tracker) update(targets []Target, answered map[Target]bool) map[string]bool {
	misses := make(map[Target]int, len(targets))
	ports := map[string]bool{}
	for _, t := range targets {
		m, known := k.misses[t]
		switch {
		case answered[t]:
			m = 0
		case !known:
			m = k.threshold
		default:
			m = min(m+1, k.threshold)
		}
		misses[t] = m
		ports[t.Port] = ports[t.Port] || m < k.threshold
	}
	k.misses = misses
	return ports
}
