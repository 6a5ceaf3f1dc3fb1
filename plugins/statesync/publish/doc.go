// Package publish is the state sync plugin's publish API for the services
// tandem does not own (a DHCP client, a DNS proxy, a PPPoE client, a DHCP
// server): SPEC SYNC-8, SYNC-9, SYNC-10, SYNC-11. The plugin listens on a
// unix socket (the intent's publish_socket, mode 0600, root only); a
// service connects with package client, names a channel and publishes
// upserts, deletions and full replacements of typed entries. Each channel
// is a Store, which is the stream's Source on the active (every change,
// or every entry once per period for the periodic channels) and its Sink
// on the standby, where the same service reads the replicated entries
// (get, or watch: snapshot then changes) to take over with.
//
// Published entries are state, not a session: they stay when the service
// disconnects, until it deletes them. The wire format is in package wire
// and docs/statesync-publish.md.
package publish
