// Package conntrack is the connection-tracking channel of the state sync
// plugin (SYNC-1): on the active unit a Source follows the kernel's
// conntrack table over ctnetlink and produces channel records; on the
// standby a Sink installs those records into its own kernel table, so that
// after a takeover an `ct state established` policy with
// nf_conntrack_tcp_loose=0 accepts the next packet of every synced
// session, NAT included.
//
// The package speaks ctnetlink itself (netlink.go, attr.go, ctnetlink.go)
// because no Go library both sets the NAT attributes that a NAT'd entry
// needs and batches requests; records use a compact versioned encoding
// (codec.go). See docs/statesync-conntrack.md for the rules it follows.
package conntrack
