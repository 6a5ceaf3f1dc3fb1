// Package probe runs the logical probes of HA monitoring (DET-4): every
// unit sends ICMP echo requests to each monitored interface's probe
// address from its own monitoring address (MON-2) and reports, per port,
// whether the target answers. The HA engine compares the two units'
// results: only when the active alone loses its target does the pair
// fail over.
//
// Probes use raw ICMP sockets ("ip4:icmp", "ip6:ipv6-icmp") bound to the
// monitoring address, so the process needs CAP_NET_RAW. The sockets are
// opened on the goroutine that calls Run, in that goroutine's network
// namespace.
package probe
