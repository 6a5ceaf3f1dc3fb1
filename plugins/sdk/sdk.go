// Package sdk is everything a tandem plugin imports: the plugin protocol
// (re-exported protobuf messages), the go-plugin handshake and glue, Serve for
// a plugin's main, and the Client the core uses to talk to a plugin process.
//
// A plugin is a separate executable. Its main is one line:
//
//	func main() { sdk.Serve(&myPlugin{}) }
//
// The core (core/pluginhost) discovers the executable in its plugin directory,
// starts it, negotiates the protocol version over go-plugin's handshake
// (gRPC only, AutoMTLS) and calls Describe, Apply and Watch.
package sdk

import (
	"context"
	"time"

	"github.com/tandem-ha/tandem/gen/pluginpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Protocol messages, re-exported so that plugin authors never import gen/.
type (
	// Info is what Describe returns.
	Info = pluginpb.PluginInfo
	// Kind is the role a plugin plays (KindPlatform, KindStatesync, ...).
	Kind = pluginpb.Kind
	// Intent is the desired state handed to Apply.
	Intent = pluginpb.Intent
	// PlatformSpec is the platform driver's part of an Intent.
	PlatformSpec = pluginpb.PlatformSpec
	// Port is one logical port of a PlatformSpec.
	Port = pluginpb.Port
	// FirewallSpec is the unit's own input filter in a PlatformSpec.
	FirewallSpec = pluginpb.FirewallSpec
	// HALinkFilter admits the other members on an HA link (SEC-3).
	HALinkFilter = pluginpb.HALinkFilter
	// MonitoringFilter guards a monitoring address (MON-3).
	MonitoringFilter = pluginpb.MonitoringFilter
	// SyncExclusion is a per-rule stateful sync exclusion (SYNC-6).
	SyncExclusion = pluginpb.SyncExclusion
	// ApplyResult is what Apply returns.
	ApplyResult = pluginpb.ApplyResult
	// Observation is one event streamed by Watch.
	Observation = pluginpb.Observation
	// LinkEvent is the carrier state of a port.
	LinkEvent = pluginpb.LinkEvent
	// ObservationLink is the Observation.Event variant carrying a LinkEvent.
	ObservationLink = pluginpb.Observation_Link
	// StatesyncSpec is the stateful sync plugin's part of an Intent.
	StatesyncSpec = pluginpb.StatesyncSpec
	// PrepareResult is what PrepareActive returns.
	PrepareResult = pluginpb.PrepareResult
	// SyncStatus is the stateful sync plugin's progress.
	SyncStatus = pluginpb.SyncStatus
	// ChannelStatus is one channel of a SyncStatus.
	ChannelStatus = pluginpb.ChannelStatus
	// PluginEvent is an event for the HA event log.
	PluginEvent = pluginpb.PluginEvent
)

// Plugin kinds.
const (
	KindUnspecified = pluginpb.Kind_KIND_UNSPECIFIED
	KindPlatform    = pluginpb.Kind_KIND_PLATFORM
	KindStatesync   = pluginpb.Kind_KIND_STATESYNC
	KindSVRRP       = pluginpb.Kind_KIND_SVRRP
	KindDPI         = pluginpb.Kind_KIND_DPI
)

// HA roles carried in Intent.Role.
const (
	RoleActive       = "active"
	RoleStandby      = "standby"
	RoleStandalone   = "standalone"
	RoleInitializing = "initializing"
	RoleFaulted      = "faulted"
)

// Plugin is implemented by every plugin. The same interface is implemented by
// *Client on the host side, so the core and tests can treat a remote plugin
// and an in-process one alike.
type Plugin interface {
	// Describe tells the host the plugin's name, kind, version and (for
	// platform drivers) the platforms it claims.
	Describe(ctx context.Context) (*Info, error)
	// Apply makes the system match the intent. It must be idempotent: a
	// second Apply of the same intent reports zero changes.
	Apply(ctx context.Context, in *Intent) (*ApplyResult, error)
	// Watch calls emit for every observation until ctx is cancelled (then it
	// returns nil or ctx.Err()) or until watching fails (then it returns the
	// error and the host subscribes again). emit is safe for concurrent use.
	Watch(ctx context.Context, emit func(*Observation)) error
}

// Preparer is implemented by plugins that own state which must be in
// place before this unit takes the active role (the stateful sync
// plugin): PrepareActive returns once it is. The HA engine calls it
// before the addresses move (takeover ordering).
type Preparer interface {
	PrepareActive(ctx context.Context) (*PrepareResult, error)
}

// NewSyncObservation wraps a SyncStatus observed at t into an Observation.
func NewSyncObservation(t time.Time, st *SyncStatus) *Observation {
	return &Observation{Time: timestamppb.New(t), Event: &pluginpb.Observation_Sync{Sync: st}}
}

// NewEventObservation wraps an event for the HA event log into an
// Observation.
func NewEventObservation(t time.Time, ev *PluginEvent) *Observation {
	return &Observation{Time: timestamppb.New(t), Event: &pluginpb.Observation_PluginEvent{PluginEvent: ev}}
}

// NewLinkObservation wraps a LinkEvent observed at t into an Observation.
func NewLinkObservation(t time.Time, ev *LinkEvent) *Observation {
	return &Observation{Time: timestamppb.New(t), Event: &ObservationLink{Link: ev}}
}

// ObservationTime returns the time of an observation (zero when unset).
func ObservationTime(o *Observation) time.Time {
	if o.GetTime() == nil {
		return time.Time{}
	}
	return o.GetTime().AsTime()
}
