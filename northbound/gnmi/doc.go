// Package gnmi is tandem's gNMI northbound (gNMI 0.10 over gRPC with
// TLS): Capabilities, Get, Set and Subscribe on the unit's YANG models.
//
// Configuration paths are served from the running configuration (secrets
// never leave the unit), state paths from the state tree of
// core/telemetry. Both are kept as gNMI leaves in ctree-based caches: the
// state tree is one already, and a mirror of the running configuration is
// refreshed on every new revision, so that Get, wildcards and every
// Subscribe mode work the same on both. Set applies all of a request's
// operations as one transaction through the datastore (validated, all or
// nothing), after the same user-role and HA-role checks as every other
// northbound. Subscribe serves ONCE, POLL and STREAM with ON_CHANGE,
// SAMPLE (sample_interval, suppress_redundant, heartbeat_interval) and
// TARGET_DEFINED (on change: the state tree is written on change).
//
// Callers authenticate with username/password gRPC metadata (the keys
// gnmic sends) or an "authorization: Bearer <token>" header, checked
// against the users of the running configuration.
package gnmi
