package fsm

// Quality is the interface part of the quality factor in percent (DET-6):
// sum(up_i * w_i) / sum(w_i) over the monitored interfaces, rounded down.
// Ports missing from links count as down. With no interfaces, or all weights
// zero, the quality is 100.
func Quality(ifaces []Interface, links Links) int {
	total, up := 0, 0
	for _, f := range ifaces {
		w := clamp(f.Weight, 0, 9999)
		total += w
		if links[f.Name].Up {
			up += w
		}
	}
	if total == 0 {
		return 100
	}
	return up * 100 / total
}
