package fsm

import "time"

// Interface is one monitored interface (tandem-ha-monitoring interfaces).
type Interface struct {
	// Name is the port, such as X1.
	Name string
	// Weight is the interface's weight in the quality factor, 0-9999 (DET-6).
	Weight int
	// Physical turns on physical link monitoring (DET-3).
	Physical bool
	// Probe turns on logical probe monitoring (DET-4).
	Probe bool
}

// Config is what the machine needs from the running configuration and from
// the unit itself. The zero HeartbeatInterval and TriggerLevel mean the YANG
// defaults; every other zero is taken as given.
type Config struct {
	// Serial is this unit's serial number.
	Serial string
	// Designation is this unit's fixed designation (ROLE-1).
	Designation Designation
	// Model is this unit's hardware model (MODE-5).
	Model string
	// Firmware is this unit's firmware version (MODE-5).
	Firmware string
	// HeartbeatInterval is the time between heartbeats (DET-1); default 200 ms.
	HeartbeatInterval time.Duration
	// TriggerLevel is the number of missed heartbeat intervals after which
	// the peer is dead (DET-1); default 3.
	TriggerLevel int
	// ElectionDelay is how long a starting unit looks for an active peer on
	// top of one heartbeat timeout (ROLE-2); 0-300 s.
	ElectionDelay time.Duration
	// Preempt lets a recovered primary take the active role back (ROLE-3).
	Preempt bool
	// PreemptHoldTime is how long the preferred unit must be a healthy
	// standby before it gets the role back (ROLE-3).
	PreemptHoldTime time.Duration
	// Hysteresis is the quality margin, in percent, by which a standby must
	// be better to take the role on quality alone (DET-6).
	Hysteresis int
	// ActiveIfEqual names the unit that wins on equal quality (ROLE-5).
	ActiveIfEqual ActiveIfEqual
	// Interfaces are the monitored interfaces, HA links excluded (DET-6).
	Interfaces []Interface
	// Forced is this device's configured forced status (ROLE-4).
	Forced Forced
	// StatefulSync says a bulk sync must complete before this unit counts
	// as ready for a voluntary give-back; without it the unit starts
	// complete.
	StatefulSync bool
	// ConfirmTakeover holds every becoming-active decision until the engine
	// steps Ready (see the package documentation).
	ConfirmTakeover bool
}

// Default heartbeat settings from tandem-ha.yang.
const (
	DefaultHeartbeatInterval = 200 * time.Millisecond
	DefaultTriggerLevel      = 3
	DefaultPreemptHoldTime   = 60 * time.Second
	DefaultHysteresis        = 10
	DefaultWeight            = 100
)

// normalized returns c with the defaults filled in and values clamped to
// their YANG ranges.
func (c Config) normalized() Config {
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.TriggerLevel <= 0 {
		c.TriggerLevel = DefaultTriggerLevel
	}
	c.Hysteresis = clamp(c.Hysteresis, 0, 100)
	if c.Forced == "" {
		c.Forced = ForcedNone
	}
	if c.ActiveIfEqual == "" {
		c.ActiveIfEqual = EqualAutomatic
	}
	ifs := make([]Interface, len(c.Interfaces))
	for i, f := range c.Interfaces {
		f.Weight = clamp(f.Weight, 0, 9999)
		ifs[i] = f
	}
	c.Interfaces = ifs
	return c
}

// Timeout is one heartbeat timeout: interval times trigger level (DET-1).
func (c Config) Timeout() time.Duration {
	n := c.normalized()
	return n.HeartbeatInterval * time.Duration(n.TriggerLevel)
}

// priority is 50 when this unit is the configured active-if-equal unit, 0
// otherwise (ROLE-5).
func (c Config) priority() int {
	if string(c.ActiveIfEqual) == string(c.Designation) {
		return 50
	}
	return 0
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
