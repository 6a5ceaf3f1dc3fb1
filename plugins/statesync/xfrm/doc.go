// Package xfrm is the IPsec channel of the state sync plugin ("ipsec",
// SYNC-2): on the active unit a Source follows the kernel's security
// associations (SAs, with their keys, lifetimes and anti-replay
// counters) and security policies over netlink xfrm; on the standby a
// Sink installs them, so that after a takeover the tunnels keep passing
// traffic without rekeying.
//
// The anti-replay counters change with every packet and the kernel sends
// no event for that by default, so the Source re-reads the SAs every
// Refresh and re-sends those whose counters moved. The Sink installs the
// output sequence number of every SA plus a margin (OSeqMargin, see
// MarginFor) so that the new active never sends a sequence number the
// peer has already seen: no packet is rejected as a replay after the
// takeover. Keys travel only inside the stream's records (authenticated,
// and encrypted when the stream is) and are never logged.
//
// The package speaks xfrm netlink itself (kernel.go): the vishvananda
// library cannot set the ESN replay state, the current lifetime or the
// replay thresholds. See docs/statesync-channels.md.
package xfrm
