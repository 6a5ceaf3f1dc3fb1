// Package wire is the heartbeat wire format of the HA pair: encoding, authentication,
// encryption and replay protection of the UDP messages members exchange on the HA control link
// and the backup path (DESIGN.md "Member-to-member traffic", SPEC SEC-1, SEC-2, DET-8).
//
// The package is pure: no sockets, no timers, no clock. Timestamps and the epoch come in from the
// caller. Counting bad, replayed and unauthenticated messages is the caller's job; every error
// wraps one sentinel so errors.Is tells them apart: framing (ErrTruncated, ErrBadMagic,
// ErrVersion, ErrTooLarge, ErrMalformed), authentication (ErrAuth), replay (ErrReplay, refined
// as ErrDuplicate, ErrTooOld and ErrStaleEpoch) and the caller's own mistakes (ErrInvalid,
// ErrNoKey, ErrShortKey).
//
// # Layout (version 1)
//
// All integers are big-endian. The same table is in FORMAT.md.
//
//	offset  size  field
//	------  ----  ---------------------------------------------------------------------------
//	header (cleartext, always authenticated)
//	0       4     magic "TDHB"
//	4       1     version = 1
//	5       1     flags: bit 0 encrypted; other bits unknown to this version (refused, ErrVersion)
//	6       2     payload length P (plaintext bytes; the ciphertext has the same length)
//	8       4     epoch: sender's boot id, greater after every restart (NextEpoch)
//	12      8     sequence number, strictly increasing per sender within an epoch
//	20      8     timestamp: sender's monotonic clock, ns (int64), echoed back for RTT
//	28      1     serial length S (1..32)
//	29      S     sender serial number, [A-Za-z0-9-]
//	payload (29+S, P bytes; AES-256-GCM ciphertext when encrypted)
//	+0      1     role: 1 initializing, 2 active, 3 standby, 4 faulted, 5 standalone
//	+1      1     designation: 1 primary, 2 secondary
//	+2      1     quality 0..100 (DET-6)
//	+3      1     priority: 0 or 50 (ROLE-5)
//	+4      1     forced status: 0 none, 1 active, 2 standby (ROLE-4)
//	+5      1     flags: bit 0 bulk sync complete, bit 1 echo present, bit 2 yield;
//	              others reserved (0, ignored)
//	+6      8     config revision (uint64)
//	+14     8     echo timestamp: the peer's last timestamp received (int64 ns, peer's clock)
//	+22     8     echo delay: ns between receiving it and sending this (int64, >= 0)
//	+30     4     echo epoch: the epoch of that peer message
//	+34     8     echo sequence: the highest sequence taken in from that epoch (the ack)
//	+42     1     model length M (0..64), then M bytes printable ASCII
//	        1     firmware length F (0..64), then F bytes printable ASCII
//	        1     port count N (0..64), then N times:
//	                1 name length L (1..15), L bytes printable ASCII without space,
//	                1 port flags: bit 0 link up, bit 1 probe configured, bit 2 probe ok;
//	                  others reserved (0, ignored)
//	        ...   extension area: bytes after the last port are ignored by version 1
//	trailer
//	29+S+P  16    tag: HMAC-SHA256(hmac key, header||payload)[:16] when plain;
//	              the AES-256-GCM tag when encrypted
//
// Echo fields are zero when the echo flag is clear. A datagram is exactly 29+S+P+16 bytes
// (at most MaxMessageSize = 1452; a maximal version 1 message is 1338) and fits one unfragmented
// UDP datagram on a 1500-byte link. Version 1 receivers refuse other versions and unknown header
// flags; compatible additions append fields to the payload's extension area and use reserved
// payload flag bits, so that a pair running different firmware (MODE-5 fail-soft) still talks.
//
// # Keys and cryptography
//
// NewKey derives from the cluster pre-shared key, with HKDF-SHA256 (salt "tandem-ha heartbeat
// v1"), a 32-byte HMAC key (info "tandem-ha/heartbeat/v1/hmac"), a 32-byte AEAD master key
// (".../aead") and a public fingerprint (".../fingerprint"). Plain messages carry a 16-byte
// truncated HMAC-SHA256 over header and payload, compared in constant time. Encrypted messages
// (SEC-2) are sealed with AES-256-GCM under a per-sender key, HKDF-Expand(aead master,
// ".../aead/sender/"+serial), with the header as additional data and the nonce epoch||sequence
// (4+8 bytes). The per-sender key keeps the two members from ever sharing a key and nonce; a
// sender never repeats epoch||sequence as long as its epochs only grow. Open authenticates before
// it parses a single payload byte. Keyring changes the key in place (SEC-1).
//
// # Replay and freshness
//
// ReplayWindow (one per peer) refuses duplicates, sequence numbers below a 128-wide window and
// epochs older than the peer's current one; a newer epoch (the peer rebooted) starts afresh.
// Epochs are ordered, which is why they are not random: NextEpoch makes a new one from the last
// persisted epoch and the wall clock. Whatever a receiver remembers is lost when it restarts, so
// a recorded message may be accepted once after that. A receiver proves a message fresh with its
// echo: Echo.Epoch equal to the receiver's own current epoch means the sender heard this boot of
// the receiver before sending. The HA engine should not let a peer that never echoed it hold off
// a takeover. Receivers must also drop messages bearing their own serial (reflections).
package wire
