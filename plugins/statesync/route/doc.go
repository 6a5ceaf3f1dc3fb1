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
// The Sink only ever removes routes tagged Protocol, and leaves a route
// of the standby's own with the same destination and metric alone. When
// the unit takes over, HoldDown keeps the synced routes for the
// hold-down time (/ha/config/dynamic-route-hold-down, default 45 s) and
// then removes every one the routing daemon has not replaced. See
// docs/statesync-channels.md.
package route
