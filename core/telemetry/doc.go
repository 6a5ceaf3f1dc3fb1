// Package telemetry holds everything observable about a tandem unit: the
// state tree (a gNMI cache with one target, the unit's name) that gNMI
// Subscribe, REST/NETCONF reads and status are served from, and the
// persisted, bounded HA event log (OBS-2) mirrored into that tree.
//
// Producers (core/ha, core/reconcile, the plugin host) write leaves with
// Tree.Update and Tree.Delete using YANG paths such as
// /system/plugins/plugin[name=lab]/state/status. Every path is checked
// against the generated schema: only state (config false) leaves and list
// key leaves are accepted; secrets live only under config, so they never are.
package telemetry
