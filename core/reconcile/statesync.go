package reconcile

import (
	"net/netip"
	"path/filepath"
	"sort"

	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// PublishSocket is the name, in the daemon's data directory, of the
// socket on which services publish state to the sync plugin.
const PublishSocket = "statesync.sock"

// SyncPortOffset is added to the control link's UDP port when the sync
// stream shares the control link's addresses (no data link configured).
const SyncPortOffset = 1

// StatesyncSpec computes what the stateful sync plugin must do for the
// configuration d: whether it runs (tandem-ha's stateful-sync), the sync
// stream's endpoints on the HA data link (the control link when no data
// link has both units' addresses), the key, throttle and filters, the
// dynamic route hold-down (TKO-5), and the unit's own addresses, whose
// connections are never synced (SYNC-3).
// Without a peer to sync with, the spec is disabled.
func StatesyncSpec(d *tandem.Device, self Identity) *sdk.StatesyncSpec {
	ha := d.GetHa().GetConfig()
	spec := &sdk.StatesyncSpec{Enabled: ha.GetStatefulSync()}
	if !spec.Enabled {
		return spec
	}
	primary := self.Designation(d) == tandem.TandemTypes_UnitDesignation_primary
	local, peer, ok := syncEndpoints(d, primary)
	if !ok {
		return &sdk.StatesyncSpec{}
	}
	ss := d.GetStatesync().GetConfig()
	spec.Local, spec.Peer = local.String(), peer.String()
	spec.Key = []byte(ha.GetPreSharedKey())
	spec.Encrypt = ha.GetEncryption()
	spec.RateBytesPerSecond = uint64(ss.GetThrottle()) * 1000 / 8
	spec.MinAgeSeconds = ss.GetMinDuration()
	spec.NoSyncMark = ss.GetNoSyncMark()
	spec.DhcpLeaseIntervalSeconds = ss.GetDhcpLeaseInterval()
	spec.CertificateIntervalSeconds = ss.GetCertificateInterval()
	// The generated getter returns the YANG default (45) when unset.
	spec.RouteHoldDownSeconds = uint32(ha.GetDynamicRouteHoldDown())
	for _, c := range ss.GetCategory() {
		spec.Channels = append(spec.Channels, c.String())
	}
	if len(spec.Channels) == 0 {
		spec.Channels = allChannels()
	}
	spec.LocalAddresses = unitAddresses(d)
	if self.DataDir != "" {
		spec.PublishSocket = filepath.Join(self.DataDir, PublishSocket)
	}
	return spec
}

// allChannels lists every tandem-statesync category: an empty
// category list means all of them.
func allChannels() []string {
	var out []string
	for _, def := range tandem.ΛEnum["E_TandemStatesync_Category"] {
		out = append(out, def.Name)
	}
	sort.Strings(out)
	return out
}

// syncEndpoints returns this unit's and the peer's sync stream endpoints.
func syncEndpoints(d *tandem.Device, primary bool) (local, peer netip.AddrPort, ok bool) {
	links := d.GetHa().GetLinks()
	endpoints := func(fn tandem.E_TandemHa_HaLinkFunction) (netip.AddrPort, netip.AddrPort, uint16, bool) {
		cfg := links.GetLink(fn).GetConfig()
		own, other := cfg.GetSecondaryAddress(), cfg.GetPrimaryAddress()
		if primary {
			own, other = other, own
		}
		o, err1 := netip.ParsePrefix(own)
		p, err2 := netip.ParsePrefix(other)
		if cfg == nil || err1 != nil || err2 != nil {
			return netip.AddrPort{}, netip.AddrPort{}, 0, false
		}
		port := cfg.GetUdpPort()
		return netip.AddrPortFrom(o.Addr(), port), netip.AddrPortFrom(p.Addr(), port), port, true
	}
	cl, cp, cport, cok := endpoints(tandem.TandemHa_HaLinkFunction_control)
	if dl, dp, _, ok := endpoints(tandem.TandemHa_HaLinkFunction_data); ok {
		if !(cok && dl == cl) {
			return dl, dp, true
		}
	}
	if !cok {
		return netip.AddrPort{}, netip.AddrPort{}, false
	}
	port := cport + SyncPortOffset
	return netip.AddrPortFrom(cl.Addr(), port), netip.AddrPortFrom(cp.Addr(), port), true
}

// unitAddresses lists every address of the pair's units (without prefix
// length): interface (virtual) addresses, monitoring addresses of both
// members and HA link addresses.
func unitAddresses(d *tandem.Device) []string {
	var out []string
	add := func(s string) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Addr().String())
		} else if a, err := netip.ParseAddr(s); err == nil && !a.IsUnspecified() {
			out = append(out, a.String())
		}
	}
	if ifs := d.GetInterfaces(); ifs != nil {
		for _, ifc := range ifs.Interface {
			for _, a := range append(append([]string{}, ifc.GetConfig().GetIpv4Address()...), ifc.GetConfig().GetIpv6Address()...) {
				add(a)
			}
		}
	}
	if m := d.GetMonitoring().GetInterfaces(); m != nil {
		for _, mon := range m.Interface {
			v4, v6 := mon.GetIpv4().GetConfig(), mon.GetIpv6().GetConfig()
			for _, a := range []string{v4.GetPrimaryAddress(), v4.GetSecondaryAddress(), v6.GetPrimaryAddress(), v6.GetSecondaryAddress()} {
				add(a)
			}
		}
	}
	if l := d.GetHa().GetLinks(); l != nil {
		for _, link := range l.Link {
			add(link.GetConfig().GetPrimaryAddress())
			add(link.GetConfig().GetSecondaryAddress())
		}
	}
	return dedupe(out)
}
