// Package store holds tandem's configuration datastores: the shared
// candidate and the running configuration, with NETCONF-style locks,
// commit, confirmed commit with automatic rollback, rollback N and an
// append-only revision history, all persisted in one bbolt file.
//
// Every configuration is kept in its canonical form: the RFC 7951 JSON of
// model.Encode, decoded again with model.Decode. State (config false)
// nodes are therefore never stored. A new running revision and the
// running pointer are written in one bbolt transaction, so a crash leaves
// either the old or the new running configuration, never a mix.
//
// All methods are safe for concurrent use. Callbacks given to
// EditCandidate and Update run while the store is locked for writing:
// they must not call back into the Store.
package store
