package stream

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// Role is what an endpoint does with the channels' records.
type Role = frame.Role

// Roles.
const (
	// RoleOther: neither sends nor installs (initializing, faulted, standalone).
	RoleOther = frame.RoleOther
	// RoleActive: watches the Sources and sends their records.
	RoleActive = frame.RoleActive
	// RoleStandby: installs received records through the Sinks.
	RoleStandby = frame.RoleStandby
)

// Channel is one kind of state the stream carries. Both units normally have both halves,
// so that the direction can switch at takeover.
type Channel struct {
	// Source is used while active; nil: this unit never sends the channel.
	Source channel.Source
	// Sink is used while standby; nil: received records of the channel are counted and
	// dropped.
	Sink channel.Sink
}

// chanState is a channel and its counters.
type chanState struct {
	name string
	src  channel.Source
	sink channel.Sink
	st   ChannelStats
}

// Endpoint is one unit's end of the state sync stream. Create it with New, start it with
// Run; the other methods are safe to call from any goroutine at any time.
type Endpoint struct {
	cfg    Config
	log    *slog.Logger
	chans  []*chanState
	byName map[string]int
	table  []frame.ChannelName // the channel table of BULK_BEGIN

	in      inbox
	kick    chan struct{}
	snaps   chan snapResult
	dgrams  chan datagram
	running atomic.Bool
	watchWG sync.WaitGroup

	mu           sync.Mutex
	role         Role
	session      uint64
	packet       uint64
	keys         keyring
	conn         *net.UDPConn
	runCtx       context.Context
	watchCancel  context.CancelFunc
	peer         peer
	tx           sender
	rx           receiver
	app          appQueue
	bulkComplete bool
	bucket       bucket
	lastControl  time.Time
	st           Stats
	events       []Event
	sendBuf      []byte
}

// New checks cfg and the channels and returns an endpoint in RoleOther. Channel names
// (from the Source, else the Sink) must be unique, at most frame.MaxChannels, and made of
// [a-z0-9_-]; a Source and a Sink of one Channel must have the same name.
func New(cfg Config, chans ...Channel) (*Endpoint, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	key, err := frame.NewKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("stream: Config.Key: %w", err)
	}
	if len(chans) > frame.MaxChannels {
		return nil, fmt.Errorf("stream: %d channels, at most %d", len(chans), frame.MaxChannels)
	}
	e := &Endpoint{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "statesync-stream"),
		byName:  map[string]int{},
		kick:    make(chan struct{}, 1),
		snaps:   make(chan snapResult, frame.MaxChannels),
		dgrams:  make(chan datagram, 1024),
		session: newSession(),
		bucket:  newBucket(cfg.Rate, cfg.MaxDatagram),
		in:      inbox{notify: make(chan struct{}, 1), limit: cfg.MaxQueue},
	}
	e.keys.current = key
	e.app.progress = make(chan struct{})
	e.app.notify = make(chan struct{}, 1)
	e.tx.queue.reset()
	for i, c := range chans {
		var name string
		switch {
		case c.Source != nil && c.Sink != nil && c.Source.Name() != c.Sink.Name():
			return nil, fmt.Errorf("stream: channel %d: source %q and sink %q differ", i, c.Source.Name(), c.Sink.Name())
		case c.Source != nil:
			name = c.Source.Name()
		case c.Sink != nil:
			name = c.Sink.Name()
		default:
			return nil, fmt.Errorf("stream: channel %d has neither source nor sink", i)
		}
		if !frame.ValidName(name) {
			return nil, fmt.Errorf("stream: channel %d: name %q, want 1..%d of [a-z0-9_-]", i, name, frame.MaxNameLen)
		}
		if _, dup := e.byName[name]; dup {
			return nil, fmt.Errorf("stream: channel %q given twice", name)
		}
		e.byName[name] = i
		e.chans = append(e.chans, &chanState{name: name, src: c.Source, sink: c.Sink, st: ChannelStats{Name: name}})
		if c.Source != nil {
			e.table = append(e.table, frame.ChannelName{ID: uint8(i), Name: name})
		}
	}
	return e, nil
}

// newSession returns a random non-zero session id.
func newSession() uint64 {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		if s := binary.BigEndian.Uint64(b[:]); s != 0 {
			return s
		}
	}
}

// SetRole switches what the endpoint does: RoleActive watches the sources and sends (a
// standby peer gets a bulk sync first), RoleStandby installs, RoleOther does neither. The
// HA engine calls it at every role change; takeover is Confirm, then SetRole(RoleActive).
func (e *Endpoint) SetRole(r Role) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r == e.role || r > RoleStandby {
		return
	}
	old := e.role
	e.role = r
	e.log.Info("state sync role", "from", old, "to", r)
	if old == RoleActive {
		e.tx.stop()
	}
	if old == RoleStandby || r == RoleStandby {
		e.rx.abandon(&e.st)
	}
	if r == RoleStandby {
		e.bulkComplete = false
	}
	e.updateWatches()
	e.sendControl(e.peer.session, time.Now())
	e.wake()
}

// SetKey changes the pre-shared key in place (SEC-1): datagrams are sealed with the new
// key at once; the previous key is still accepted for Config.KeyGrace.
func (e *Endpoint) SetKey(psk []byte) error {
	k, err := frame.NewKey(psk)
	if err != nil {
		return fmt.Errorf("stream: new key: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys.rotate(k, time.Now(), e.cfg.KeyGrace)
	return nil
}

// BulkComplete reports whether this unit, as standby, has installed a complete bulk sync
// since it became standby (SYNC-7). Until then it should not become active while the
// active is alive.
func (e *Endpoint) BulkComplete() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bulkComplete
}

// RequestResync asks for a full bulk sync: on the active it starts one, on the standby it
// asks the active for one. reason is logged.
func (e *Endpoint) RequestResync(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.role {
	case RoleActive:
		e.resync("requested: "+reason, time.Now())
	case RoleStandby:
		e.log.Info("state sync: asking the active for a bulk sync", "reason", reason)
		e.rx.request = true
		e.sendControl(e.peer.session, time.Now())
	}
	e.wake()
}

// Confirm returns once every record received so far is installed: the takeover step the
// HA engine runs before it moves addresses (issue item 6). Records received out of order
// behind a gap that was not filled yet are installed too, and the gap is counted as lost
// (the active is normally gone at this point). It is quick because installation is
// continuous: it waits only for the records in the installer's queue.
func (e *Endpoint) Confirm(ctx context.Context) error {
	e.mu.Lock()
	e.rx.salvage(e, time.Now())
	target := e.app.delivered
	e.mu.Unlock()
	for {
		e.mu.Lock()
		done, ch := e.app.applied >= target, e.app.progress
		e.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("stream: confirm: %w", ctx.Err())
		}
	}
}

// Stats returns a snapshot of the state and counters.
func (e *Endpoint) Stats() Stats {
	now := time.Now()
	e.mu.Lock()
	s := e.st
	s.Role = e.role
	s.PeerUp = e.peer.up
	s.PeerRole = e.peer.role
	s.PeerBulkComplete = e.peer.bulkComplete
	s.BulkComplete = e.bulkComplete
	s.KeyFingerprint = e.keys.current.Fingerprint()
	s.Generation = e.tx.gen
	s.AckedSeq = e.tx.cumAck
	s.Unacked = len(e.tx.unacked)
	if len(e.tx.unacked) > 0 {
		s.OldestUnacked = now.Sub(e.tx.unacked[0].firstSent)
	}
	s.Queued = e.tx.queue.records
	if e.rx.gen != 0 {
		s.ReceivedSeq = e.rx.next - 1
	}
	s.AppliedSeq = e.app.seq
	s.Channels = make([]ChannelStats, len(e.chans))
	for i, c := range e.chans {
		s.Channels[i] = c.st
	}
	e.mu.Unlock()
	for i, c := range e.chans {
		s.Channels[i].Entries = -1
		if c.sink != nil {
			s.Channels[i].Entries = c.sink.Count()
		}
	}
	return s
}

// wake makes the loop recompute its timers.
func (e *Endpoint) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// event records an event for the loop to deliver, and logs it.
func (e *Endpoint) event(now time.Time, typ, severity, msg string, attrs ...any) {
	level := slog.LevelInfo
	switch severity {
	case SeverityWarning:
		level = slog.LevelWarn
	case SeverityError:
		level = slog.LevelError
	}
	e.log.Log(context.Background(), level, msg, append([]any{"event", typ}, attrs...)...)
	if e.cfg.OnEvent != nil {
		for i := 0; i+1 < len(attrs); i += 2 {
			msg += fmt.Sprintf(" %v=%v", attrs[i], attrs[i+1])
		}
		e.events = append(e.events, Event{Time: now, Type: typ, Severity: severity, Message: msg})
	}
}
