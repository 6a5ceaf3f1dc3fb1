// Package route is the dynamic route channel of the state sync plugin
// ("routes", SYNC-2 dynamic routing information) and the route hold-down
// of a new active unit (TKO-5). On the active unit a Source follows the
// main table's unicast IPv4 and IPv6 routes that a routing daemon
// installed (OSPF, RIP, BGP, IS-IS, Babel... see Dynamic) over rtnetlink,
// naming each nexthop's interface rather than its index; on the standby
// a Sink installs them into its own main table via the interfaces of the
// same names, tagged with the route protocol Protocol, so that after a
// takeover the new active forwards to the networks the old one had
// learned before its own routing daemon has converged.
//
// The Sink installs each route one metric worse than the active has it
// (MetricOffset), so that a route the standby's own routing daemon
// learns with the original metric is added next to it and preferred; it
// only ever removes routes tagged Protocol. When the unit takes over,
// HoldDown keeps the synced routes for the hold-down time
// (/ha/config/dynamic-route-hold-down, default 45 s) while the routing
// daemon relearns them, and then removes every route still tagged
// Protocol. See docs/statesync-channels.md.
package route
