package ha

import (
	"sort"
	"time"

	"github.com/tandem-ha/tandem/core/ha/fsm"
	"github.com/tandem-ha/tandem/core/ha/wire"
)

// The state machine speaks YANG names and times; the wire speaks small
// integers and epochs. These functions translate between them.

var wireRoles = map[fsm.Role]wire.Role{
	fsm.RoleInitializing: wire.RoleInitializing, fsm.RoleActive: wire.RoleActive,
	fsm.RoleStandby: wire.RoleStandby, fsm.RoleFaulted: wire.RoleFaulted, fsm.RoleStandalone: wire.RoleStandalone,
}

var wireForced = map[fsm.Forced]wire.Forced{
	fsm.ForcedNone: wire.ForcedNone, fsm.ForcedActive: wire.ForcedActive, fsm.ForcedStandby: wire.ForcedStandby,
}

// bootTime is the state machine's view of a wire epoch (Unix seconds).
func bootTime(epoch uint32) time.Time { return time.Unix(int64(epoch), 0) }

// toWire builds the payload of an outgoing heartbeat from the machine's
// advertisement; probed names the ports with probe monitoring on.
func toWire(a fsm.PeerState, probed map[string]bool) wire.Payload {
	p := wire.Payload{
		Role:             wireRoles[a.Role],
		Designation:      wire.DesignationSecondary,
		Quality:          uint8(a.Quality),
		Priority:         uint8(a.Priority),
		Forced:           wireForced[a.Forced],
		ConfigRevision:   a.ConfigRevision,
		Model:            a.Model,
		Firmware:         a.Firmware,
		BulkSyncComplete: a.BulkSyncComplete,
		Yield:            a.Yield,
	}
	if a.Designation == fsm.Primary {
		p.Designation = wire.DesignationPrimary
	}
	names := make([]string, 0, len(a.Links))
	for name := range a.Links {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		l := a.Links[name]
		p.Ports = append(p.Ports, wire.PortState{Name: name, LinkUp: l.Up, Probed: probed[name], ProbeOK: probed[name] && l.ProbeOK})
	}
	return p
}

// fromWire turns an authenticated heartbeat into the peer's state. An
// acknowledgement of our own epoch is mapped to our machine's boot time,
// which keeps sub-second precision the wire epoch has not.
func fromWire(m *wire.Message, ownEpoch uint32, ownBoot time.Time) fsm.PeerState {
	p := fsm.PeerState{
		Serial:           m.Serial,
		Designation:      fsm.Secondary,
		Model:            m.Model,
		Firmware:         m.Firmware,
		Boot:             bootTime(m.Epoch),
		Seq:              m.Seq,
		Role:             fsm.Role(m.Role.String()),
		Quality:          int(m.Quality),
		Priority:         int(m.Priority),
		Forced:           fsm.Forced(m.Forced.String()),
		ConfigRevision:   m.ConfigRevision,
		BulkSyncComplete: m.BulkSyncComplete,
		Links:            fsm.Links{},
		Yield:            m.Yield,
	}
	if m.Designation == wire.DesignationPrimary {
		p.Designation = fsm.Primary
	}
	if m.Echo.Present {
		p.Ack, p.AckBoot = m.Echo.Seq, bootTime(m.Echo.Epoch)
		if m.Echo.Epoch == ownEpoch {
			p.AckBoot = ownBoot
		}
	}
	for _, port := range m.Ports {
		p.Links[port.Name] = fsm.LinkStatus{Up: port.LinkUp, ProbeOK: port.ProbeOK}
	}
	return p
}
