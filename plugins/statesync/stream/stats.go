package stream

import "time"

// Stats is a snapshot of an endpoint's state and counters (OBS-1). Counters only grow.
type Stats struct {
	Role Role
	// PeerUp: the peer was heard within Config.PeerTimeout.
	PeerUp bool
	// PeerRole is the peer's role as it last said.
	PeerRole Role
	// PeerBulkComplete: the peer (a standby) said it completed a bulk sync.
	PeerBulkComplete bool
	// BulkComplete: this unit, standby, completed a bulk sync (SYNC-7).
	BulkComplete bool
	// KeyFingerprint identifies the key used for sending (compare both units').
	KeyFingerprint string

	// Sending (active).

	// Generation is the data sequence number where the current bulk sync began; 0 when
	// not sending.
	Generation uint64
	// SentSeq is the last data sequence number sent; AckedSeq the last one the peer
	// acknowledged cumulatively.
	SentSeq, AckedSeq uint64
	// Unacked is the number of data datagrams sent and not acknowledged; OldestUnacked the
	// age of the oldest one.
	Unacked       int
	OldestUnacked time.Duration
	// Queued is the number of records waiting for the window or the batch delay.
	Queued int
	// Lag is the last delay from a record's arrival from its source to the peer's
	// acknowledgement of the datagram carrying it; LagMax the largest seen.
	Lag, LagMax time.Duration
	// Retransmits counts data datagrams sent again.
	Retransmits uint64
	// Resyncs counts generations started for a reason other than a new or returning
	// standby: unrecoverable loss, overrun, request.
	Resyncs uint64
	// BulksSent counts bulk syncs begun; LastBulkDuration and LastBulkRecords describe the
	// last one the standby acknowledged completely.
	BulksSent        uint64
	LastBulkDuration time.Duration
	LastBulkRecords  uint64
	// Overruns counts sources' lost reports and queue overflows.
	Overruns uint64
	// ThrottleWaits counts the times sending paused for the throttle (SYNC-4).
	ThrottleWaits uint64

	// Receiving (standby).

	// ReceivedSeq: every data sequence number of the generation up to it arrived;
	// AppliedSeq: every one up to it is installed.
	ReceivedSeq, AppliedSeq uint64
	// LostRanges counts ranges of data datagrams found missing; RecoveredRanges those that
	// arrived later (retransmitted).
	LostRanges, RecoveredRanges uint64
	// Unrecoverable counts ranges lost for good: given up by the active, abandoned by the
	// standby at a new generation or skipped by Confirm.
	Unrecoverable uint64
	// UnknownRecords counts records of channels this unit has no sink for.
	UnknownRecords uint64
	// Duplicates counts data datagrams received twice.
	Duplicates uint64
	// BulksReceived counts bulk syncs installed completely; LastBulkReceiveDuration is the
	// last one's duration.
	BulksReceived           uint64
	LastBulkReceiveDuration time.Duration

	// Wire.

	DatagramsSent, BytesSent, DatagramsReceived, BytesReceived uint64
	// SendErrors counts datagrams the socket refused.
	SendErrors uint64
	// Dropped datagrams, by reason: Malformed (framing or payload), BadAuth (no key
	// verified the tag), Replayed (packet number seen or too old), Unencrypted (plain
	// while encryption is on), Foreign (from another address than Config.Peer),
	// Unconfirmed (not addressed to this session: a restart or a recording), Reflected
	// (this endpoint's own session), Ignored (data while not standby, or of an old
	// generation).
	Malformed, BadAuth, Replayed, Unencrypted, Foreign, Unconfirmed, Reflected, Ignored uint64
	// PreviousKey counts datagrams authenticated with the previous key during the grace
	// period after SetKey.
	PreviousKey uint64

	Channels []ChannelStats
}

// ChannelStats are the counters of one channel.
type ChannelStats struct {
	Name string
	// Entries is the sink's Count (standby), -1 without a sink.
	Entries int
	// SentSeq is the last data sequence number that carried a record of this channel;
	// AckedSeq the last of those the peer acknowledged.
	SentSeq, AckedSeq uint64
	// Lag is the last delay from a record's arrival to the acknowledgement.
	Lag time.Duration
	// Sending: records taken from the source, superseded by a later record of the same
	// key before they were sent (coalesced), put into datagrams (sent, with their bytes),
	// discarded because no standby was there (the next bulk sync carries them), refused
	// (key above frame.MaxKeyLen or value above frame.MaxValueLen).
	Emitted, Coalesced, Sent, BytesSent, Discarded, Refused uint64
	// Losses counts datagrams with records of this channel lost beyond recovery; Resyncs
	// the resyncs (every resync covers every channel); Overruns the source's lost reports.
	Losses, Resyncs, Overruns uint64
	// Receiving: records received, installed, and refused by the sink (counted from
	// Apply's errors); ReplaceErrors counts failed Replace calls.
	Received, Applied, ApplyErrors, ReplaceErrors uint64
}
