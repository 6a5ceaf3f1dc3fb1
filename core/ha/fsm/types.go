package fsm

// Role is the role a unit holds; the values are those of the YANG ha-role
// type (tandem-types.yang).
type Role string

// The roles.
const (
	RoleInitializing Role = "initializing"
	RoleActive       Role = "active"
	RoleStandby      Role = "standby"
	RoleFaulted      Role = "faulted"
	RoleStandalone   Role = "standalone"
)

// Designation is a unit's fixed designation, bound to its serial (ROLE-1).
type Designation string

// The designations.
const (
	Primary   Designation = "primary"
	Secondary Designation = "secondary"
)

// Path names a heartbeat path (DET-2).
type Path string

// The heartbeat paths.
const (
	PathControl Path = "control"
	PathBackup  Path = "backup"
)

// Paths lists the heartbeat paths in a fixed order.
var Paths = []Path{PathControl, PathBackup}

// Forced is a forced status (ROLE-4), as the YANG forced-status type.
type Forced string

// The forced statuses.
const (
	ForcedNone    Forced = "none"
	ForcedActive  Forced = "active"
	ForcedStandby Forced = "standby"
)

// ActiveIfEqual names the unit that wins when qualities are equal (ROLE-5).
type ActiveIfEqual string

// The active-if-equal choices.
const (
	EqualAutomatic ActiveIfEqual = "automatic"
	EqualPrimary   ActiveIfEqual = "primary"
	EqualSecondary ActiveIfEqual = "secondary"
)

// Command is an admin command (ROLE-4 and manual switchover).
type Command string

// The admin commands.
const (
	CmdForceActive  Command = "force-active"
	CmdForceStandby Command = "force-standby"
	CmdReset        Command = "reset"
	CmdFailover     Command = "failover"
)

// LinkStatus is what one unit observes on one monitored port.
type LinkStatus struct {
	// Up is the physical link state (DET-3).
	Up bool
	// ProbeOK says the last logical probe from this port was answered
	// (DET-4); meaningful only where probe monitoring is on.
	ProbeOK bool
}

// Links maps a port name (X0, X1, ...) to its status.
type Links map[string]LinkStatus

// clone copies l so that callers cannot change the machine's view.
func (l Links) clone() Links {
	c := make(Links, len(l))
	for k, v := range l {
		c[k] = v
	}
	return c
}
