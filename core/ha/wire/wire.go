package wire

import (
	"errors"
	"fmt"
	"time"
)

// Version is the wire format version this package writes and the only one it reads.
const Version = 1

// Magic is the four bytes every heartbeat starts with.
const Magic = "TDHB"

// Size limits. A valid version 1 message is at most 1338 bytes, so it always fits in one
// unfragmented UDP datagram on a 1500-byte Ethernet link over IPv4 or IPv6.
const (
	// MaxMessageSize is the largest datagram Open looks at (1500 - 40 IPv6 - 8 UDP).
	MaxMessageSize = 1452
	// TagSize is the length of the authentication tag at the end of every message: the
	// truncated HMAC-SHA256 of a plain message, the AES-256-GCM tag of an encrypted one.
	TagSize = 16
	// MaxSerialLen is the longest sender serial number.
	MaxSerialLen = 32
	// MaxStringLen is the longest model or firmware version string.
	MaxStringLen = 64
	// MaxPorts is the most per-interface entries a heartbeat carries.
	MaxPorts = 64
	// MaxPortNameLen is the longest port name (Linux IFNAMSIZ minus the terminating NUL).
	MaxPortNameLen = 15
)

// Header layout (offsets in bytes). See the package documentation and FORMAT.md.
const (
	offMagic     = 0
	offVersion   = 4
	offFlags     = 5
	offLength    = 6
	offEpoch     = 8
	offSeq       = 12
	offTimestamp = 20
	offSerialLen = 28
	offSerial    = 29
	// fixedHeaderLen is the header without the serial number.
	fixedHeaderLen = offSerial
)

// Header flags.
const (
	flagEncrypted = 1 << 0
	knownFlags    = flagEncrypted
)

// Payload layout (offsets relative to the start of the payload).
const (
	poRole        = 0
	poDesignation = 1
	poQuality     = 2
	poPriority    = 3
	poForced      = 4
	poFlags       = 5
	poRevision    = 6
	poEchoTime    = 14
	poEchoDelay   = 22
	poEchoEpoch   = 30
	poEchoSeq     = 34
	poStrings     = 42 // model length byte, model, firmware length byte, firmware, port count, ports
	// fixedPayloadLen is the payload without its variable-length part.
	fixedPayloadLen = poStrings
	// maxPayloadLen is the largest version 1 payload: fixed part, two strings, port list.
	maxPayloadLen = fixedPayloadLen + 2*(1+MaxStringLen) + 1 + MaxPorts*(1+MaxPortNameLen+1)
	// maxMessageLenV1 is the largest message this version writes.
	maxMessageLenV1 = fixedHeaderLen + MaxSerialLen + maxPayloadLen + TagSize
)

// Payload flags. Bits not listed are reserved: sent as zero, ignored on receipt.
const (
	pflagBulkSyncComplete = 1 << 0
	pflagEcho             = 1 << 1
	pflagYield            = 1 << 2
)

// Port flags. Bits not listed are reserved: sent as zero, ignored on receipt.
const (
	portLinkUp  = 1 << 0
	portProbed  = 1 << 1
	portProbeOK = 1 << 2
)

// Compile-time check that a maximal version 1 message fits in MaxMessageSize.
var _ [MaxMessageSize - maxMessageLenV1]struct{}

// Errors. Every error Seal, Open and ReplayWindow return wraps exactly one of these
// sentinels (the replay errors also wrap ErrReplay), so callers count by errors.Is.
var (
	// ErrTruncated means the datagram ends before its header, payload or tag does.
	ErrTruncated = errors.New("wire: truncated message")
	// ErrBadMagic means the datagram does not start with "TDHB" (not a tandem heartbeat).
	ErrBadMagic = errors.New("wire: bad magic")
	// ErrVersion means the sender speaks a version or uses header flags this build does not know.
	ErrVersion = errors.New("wire: unsupported version")
	// ErrTooLarge means the datagram, a string or a list exceeds its bound.
	ErrTooLarge = errors.New("wire: too large")
	// ErrMalformed means the header or the authenticated payload does not parse.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrAuth means the authentication tag does not verify under any key tried.
	ErrAuth = errors.New("wire: authentication failed")
	// ErrInvalid means Seal was given a message that cannot be sent (a field out of range).
	ErrInvalid = errors.New("wire: invalid message")
	// ErrNoKey means a zero Key was used.
	ErrNoKey = errors.New("wire: no key")
	// ErrShortKey means the pre-shared key is shorter than MinPSKLen.
	ErrShortKey = errors.New("wire: pre-shared key too short")

	// ErrReplay is wrapped by every replay-window rejection.
	ErrReplay = errors.New("wire: replayed message")
	// ErrDuplicate means this epoch and sequence number were already accepted.
	ErrDuplicate = fmt.Errorf("%w: duplicate sequence number", ErrReplay)
	// ErrTooOld means the sequence number is below the replay window.
	ErrTooOld = fmt.Errorf("%w: sequence number below the window", ErrReplay)
	// ErrStaleEpoch means the epoch is older than the peer's current epoch.
	ErrStaleEpoch = fmt.Errorf("%w: epoch older than the current one", ErrReplay)
)

// Role is the HA role a unit holds (YANG tandem-types:ha-role).
type Role uint8

// Roles. Zero is not a role: a Message with Role 0 is refused by Seal.
const (
	RoleInitializing Role = iota + 1
	RoleActive
	RoleStandby
	RoleFaulted
	RoleStandalone
)

var roleNames = [...]string{"", "initializing", "active", "standby", "faulted", "standalone"}

// String returns the YANG name of the role.
func (r Role) String() string {
	if r >= 1 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

func (r Role) valid() bool { return r >= RoleInitializing && r <= RoleStandalone }

// Designation is a unit's fixed designation (YANG tandem-types:unit-designation, ROLE-1).
type Designation uint8

// Designations. Zero is not a designation.
const (
	DesignationPrimary Designation = iota + 1
	DesignationSecondary
)

// String returns the YANG name of the designation.
func (d Designation) String() string {
	switch d {
	case DesignationPrimary:
		return "primary"
	case DesignationSecondary:
		return "secondary"
	}
	return fmt.Sprintf("designation(%d)", uint8(d))
}

func (d Designation) valid() bool {
	return d == DesignationPrimary || d == DesignationSecondary
}

// Forced is a unit's forced status (YANG tandem-ha:forced-status, ROLE-4).
type Forced uint8

// Forced statuses. The zero value is "none".
const (
	ForcedNone Forced = iota
	ForcedActive
	ForcedStandby
)

// String returns the YANG name of the forced status.
func (f Forced) String() string {
	switch f {
	case ForcedNone:
		return "none"
	case ForcedActive:
		return "active"
	case ForcedStandby:
		return "standby"
	}
	return fmt.Sprintf("forced(%d)", uint8(f))
}

func (f Forced) valid() bool { return f <= ForcedStandby }

// Priority values (ROLE-5): the unit chosen to win on equal quality reports PriorityPreferred.
const (
	PriorityNone      = 0
	PriorityPreferred = 50
)

// MaxQuality is the highest quality factor (DET-6), in percent.
const MaxQuality = 100

// PortState is one monitored interface as the sender sees it (DET-3, DET-4).
type PortState struct {
	// Name is the logical port name, e.g. "X1" (1 to MaxPortNameLen printable ASCII bytes,
	// no spaces; unique within a message).
	Name string
	// LinkUp is the physical link (carrier) state.
	LinkUp bool
	// Probed says a logical probe is configured on this port; ProbeOK is meaningful only then.
	Probed bool
	// ProbeOK is the result of the port's logical probe. It must be false when Probed is.
	ProbeOK bool
}

// Echo returns to a peer the last timestamp received from it, so that the peer can measure the
// HA link's round-trip time (DET-8).
type Echo struct {
	// Present says the sender has received a heartbeat from the peer it can echo.
	Present bool
	// Epoch is the Message.Epoch of that heartbeat. A receiver that finds its own current
	// epoch here knows the message was made after the sender heard from this boot of the
	// receiver: it is fresh, not a recording.
	Epoch uint32
	// Timestamp is the Message.Timestamp of the last heartbeat the sender received from the peer,
	// in the peer's clock.
	Timestamp int64
	// Delay is how long the sender held that heartbeat before sending this one (its own clock).
	// Never negative.
	Delay time.Duration
	// Seq is the highest Message.Seq the sender has taken in from the peer's boot Epoch: the
	// acknowledgement the election handshake of core/ha/fsm relies on.
	Seq uint64
}

// RTT computes the round-trip time from an echo the receiver got back. now is the receiver's
// clock at reception, in the same clock its own Message.Timestamp values come from. It reports
// false when there is no echo or when the values are inconsistent (negative RTT).
func (e Echo) RTT(now int64) (time.Duration, bool) {
	if !e.Present {
		return 0, false
	}
	rtt := time.Duration(now-e.Timestamp) - e.Delay
	if rtt < 0 || now < e.Timestamp {
		return 0, false
	}
	return rtt, true
}

// Payload is the authenticated (and, when encryption is on, encrypted) body of a heartbeat.
type Payload struct {
	// Role is the sender's current role.
	Role Role
	// Designation is the sender's fixed designation.
	Designation Designation
	// Quality is the sender's quality factor, 0 to MaxQuality (DET-6).
	Quality uint8
	// Priority is PriorityNone or PriorityPreferred (ROLE-5).
	Priority uint8
	// Forced is the sender's forced status (ROLE-4).
	Forced Forced
	// ConfigRevision is the revision of the sender's running configuration (CFG-2).
	ConfigRevision uint64
	// Model is the sender's hardware model (MODE-5), at most MaxStringLen printable ASCII bytes.
	Model string
	// Firmware is the sender's firmware version (MODE-5), at most MaxStringLen printable ASCII
	// bytes.
	Firmware string
	// BulkSyncComplete says the sender (a standby) has received the initial bulk state sync.
	BulkSyncComplete bool
	// Yield says the sender, not active, lets the receiver become active (the election
	// handshake of core/ha/fsm).
	Yield bool
	// Ports lists the sender's monitored interfaces, at most MaxPorts.
	Ports []PortState
	// Echo carries the peer's last timestamp back for RTT measurement (DET-8).
	Echo Echo
}

// Message is one heartbeat.
type Message struct {
	// Serial is the sender's serial number: 1 to MaxSerialLen bytes of [A-Za-z0-9-].
	// Receivers must drop messages bearing their own serial (reflected heartbeats).
	Serial string
	// Epoch identifies the sender's boot; it must be greater than every epoch the sender used
	// before under the same key (see NextEpoch).
	Epoch uint32
	// Seq is the sender's sequence number, strictly increasing within an epoch.
	Seq uint64
	// Timestamp is the sender's monotonic clock in nanoseconds when it sent the message; the
	// peer echoes it back (Echo).
	Timestamp int64
	// Encrypted is set by Open when the message arrived encrypted. Seal ignores it.
	Encrypted bool
	// Payload is the authenticated body.
	Payload
}

// NextEpoch returns the epoch for a new boot of a unit: greater than prev, the last epoch the
// unit used (0 if unknown), and not lower than the wall clock in Unix seconds, so that a unit that
// lost its persisted epoch still moves forward as long as its clock is sane. The result is
// never 0. The wire package has no clock: the caller passes unixSeconds.
func NextEpoch(prev uint32, unixSeconds int64) uint32 {
	next := uint64(prev) + 1
	if unixSeconds > 0 && uint64(unixSeconds) > next {
		next = uint64(unixSeconds)
	}
	if next > 1<<32-1 {
		// Past 2106, or prev already at the top: saturate; the operator must change the key,
		// which starts every epoch space afresh (see package documentation).
		next = 1<<32 - 1
	}
	return uint32(next)
}
