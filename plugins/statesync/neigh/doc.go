// Package neigh is the neighbour channel of the state sync plugin ("arp",
// SYNC-2): on the active unit a Source follows the kernel's IPv4 ARP and
// IPv6 neighbour tables of the data interfaces over rtnetlink; on the
// standby a Sink installs those entries as STALE on the interface of the
// same name, so that after a takeover the new active forwards to known
// hosts at once instead of resolving every one of them first.
//
// The Sink never installs PERMANENT entries, never entries for the unit's
// own or virtual addresses, never touches an entry an administrator made
// permanent, and tags what it installs with the neighbour protocol
// Protocol, so that Replace removes only entries it installed. See
// docs/statesync-channels.md.
package neigh
