package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk/seal"
	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// Defaults of the zero Config fields.
const (
	DefaultMaxDatagram = 1400
	DefaultBatchDelay  = 2 * time.Millisecond
	DefaultAckDelay    = 2 * time.Millisecond
	DefaultWindow      = 1024
	DefaultMaxQueue    = 1 << 20
	DefaultKeepalive   = 200 * time.Millisecond
	DefaultPeerTimeout = 3 * time.Second
	DefaultGiveUp      = 5 * time.Second
	DefaultKeyGrace    = 5 * time.Minute
	DefaultRetryDelay  = time.Second
)

// Config configures an Endpoint. Zero fields take the defaults above.
type Config struct {
	// Local is the UDP address the endpoint binds on the HA data link; ignored when Conn is
	// set.
	Local netip.AddrPort
	// Conn, when set, is an already bound socket (for example one bound with IP_FREEBIND
	// before the address exists); Run closes it when it returns.
	Conn *net.UDPConn
	// Peer is the peer's UDP address on the HA data link. Datagrams from any other source
	// are dropped.
	Peer netip.AddrPort
	// Key is the cluster pre-shared key (SEC-1), at least 8 bytes. SetKey changes it.
	Key []byte
	// Encrypt seals datagrams with AES-256-GCM instead of HMAC-SHA256 and refuses
	// unencrypted ones (SEC-2).
	Encrypt bool
	// Rate is the throttle (SYNC-4): data bytes per second on the wire, bulk sync and
	// retransmissions included; 0 is unlimited. Control datagrams are not throttled.
	Rate int64
	// MaxDatagram is the largest datagram sent (UDP payload: header, payload, tag), so that
	// datagrams fit the path MTU unfragmented; 1400 by default, at least frame.MinDatagram.
	MaxDatagram int
	// BatchDelay is how long a record may wait for more to fill its datagram.
	BatchDelay time.Duration
	// AckDelay is how long the standby may wait before acknowledging.
	AckDelay time.Duration
	// Window is the most data datagrams the active sends beyond what the standby has
	// installed; it bounds the retransmit buffer and the standby's reordering buffer.
	Window int
	// MaxQueue is the most records that may wait for the window (after coalescing); above,
	// the active counts an overrun and starts a resync.
	MaxQueue int
	// Keepalive is the interval of control datagrams when nothing else is sent.
	Keepalive time.Duration
	// PeerTimeout: a peer not heard for that long is gone; when it is heard again it gets a
	// bulk sync.
	PeerTimeout time.Duration
	// GiveUp: a datagram not acknowledged that long after it was first sent is lost beyond
	// recovery: the active starts a resync.
	GiveUp time.Duration
	// KeyGrace is how long the previous key is still accepted after SetKey.
	KeyGrace time.Duration
	// RetryDelay is the pause before a failed bulk sync (a Snapshot error) is retried.
	RetryDelay time.Duration
	// Logger receives the stream's logs; slog.Default() when nil.
	Logger *slog.Logger
	// OnEvent, when set, receives the events for the HA event log (OBS-2). It is called
	// from the endpoint's goroutine and must not block; it may call the Endpoint's methods.
	OnEvent func(Event)
}

// withDefaults returns c with the zero fields set and checks it.
func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.MaxDatagram == 0 {
		c.MaxDatagram = DefaultMaxDatagram
	}
	def(&c.BatchDelay, DefaultBatchDelay)
	def(&c.AckDelay, DefaultAckDelay)
	def(&c.Keepalive, DefaultKeepalive)
	def(&c.PeerTimeout, DefaultPeerTimeout)
	def(&c.GiveUp, DefaultGiveUp)
	def(&c.KeyGrace, DefaultKeyGrace)
	def(&c.RetryDelay, DefaultRetryDelay)
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("stream: Config.%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if c.Conn == nil && !c.Local.IsValid() {
		bad("Local", "no local address and no Conn")
	}
	if !c.Peer.IsValid() || c.Peer.Port() == 0 {
		bad("Peer", "%v is not a UDP address with a port", c.Peer)
	}
	if len(c.Key) < seal.MinPSKLen {
		bad("Key", "%d bytes, the pre-shared key needs at least %d", len(c.Key), seal.MinPSKLen)
	}
	if c.Rate < 0 {
		bad("Rate", "%d bytes/s is negative", c.Rate)
	}
	if c.MaxDatagram < frame.MinDatagram || c.MaxDatagram > frame.MaxDatagram {
		bad("MaxDatagram", "%d, want %d..%d", c.MaxDatagram, frame.MinDatagram, frame.MaxDatagram)
	}
	if c.Rate > 0 && c.Rate < int64(c.MaxDatagram) {
		bad("Rate", "%d bytes/s is below one datagram (%d bytes) per second", c.Rate, c.MaxDatagram)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"BatchDelay", c.BatchDelay}, {"AckDelay", c.AckDelay}, {"Keepalive", c.Keepalive},
		{"PeerTimeout", c.PeerTimeout}, {"GiveUp", c.GiveUp}, {"KeyGrace", c.KeyGrace}, {"RetryDelay", c.RetryDelay}} {
		if d.v < 0 {
			bad(d.name, "%v is negative", d.v)
		}
	}
	if c.PeerTimeout <= c.Keepalive {
		bad("PeerTimeout", "%v must be longer than Keepalive %v", c.PeerTimeout, c.Keepalive)
	}
	if c.Window < 4 || c.Window > 1<<16 {
		bad("Window", "%d datagrams, want 4..65536", c.Window)
	}
	if c.MaxQueue < 1 {
		bad("MaxQueue", "%d records, want at least 1", c.MaxQueue)
	}
	c.Peer = netip.AddrPortFrom(c.Peer.Addr().Unmap(), c.Peer.Port())
	return c, errors.Join(errs...)
}
