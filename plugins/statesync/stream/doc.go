// Package stream is the reliable, authenticated UDP stream between the two units of an HA
// pair that carries the records of every state sync channel (conntrack, xfrm, ...): SPEC
// SYNC-4, SYNC-7, SEC-1, SEC-2. The wire format is in package frame and
// docs/statesync-stream.md.
//
// One Endpoint per unit carries all channels. Its role says which way records flow: the
// active unit's Sources are watched and their records batched into datagrams; the standby
// installs what it receives through its Sinks; SetRole switches the direction at takeover
// and failback without a new socket.
//
// Reliability: data datagrams carry a data sequence number; the standby acknowledges
// cumulatively and reports missing ranges; the active retransmits them from a bounded
// buffer (the flow-control window). When recovery is impossible (a datagram not
// acknowledged within Config.GiveUp, a source overrun, a queue overrun, the standby's
// request) the active starts a new generation: a full bulk sync of every channel between
// BULK_BEGIN and BULK_END in the same sequence space, after which the standby replaces
// each channel's entries. A standby that appears (first contact, restart, rejoin after
// silence, role change) gets a bulk sync, then increments. Every loss, overrun and resync
// is counted (Stats), logged and reported as an Event.
//
// Security: every datagram is authenticated with keys derived from the cluster pre-shared
// key (HMAC-SHA256, or AES-256-GCM when Config.Encrypt), replays are refused by session
// ids and a packet number window, and nothing unauthenticated changes state.
package stream
