package conntrack

import "net/netip"

// Filter decides which conntrack entries are synced.
type Filter struct {
	// IsLocal reports whether an address belongs to this unit (see
	// LocalAddrs). Connections to or from the unit itself are never
	// synced (SYNC-3). Required.
	IsLocal func(netip.Addr) bool
	// Flows whose mark&ExcludeMask equals ExcludeMark&ExcludeMask are not
	// synced (SYNC-6: the platform's rules set the mark on traffic of
	// rules whose sync flag is off). A zero mask disables the check.
	ExcludeMark, ExcludeMask uint32
}

// skipReason says why an entry is not synced.
type skipReason int

const (
	syncIt skipReason = iota
	// skipState: unconfirmed, dying, template or untracked entries, or a
	// protocol the channel does not carry.
	skipState
	// skipLocal: a connection to or from the unit itself (SYNC-3).
	skipLocal
	// skipMark: excluded by its conntrack mark (SYNC-6).
	skipMark
)

// syncable reports whether the kernel entry itself can be synced at all,
// whatever the configuration.
func syncable(f *Flow) bool {
	if f.Status&StatusConfirmed == 0 || f.Status&(StatusDying|StatusTemplate|StatusUntracked) != 0 {
		return false
	}
	return Supported(f.Orig.Proto)
}

func (fl *Filter) check(f *Flow) skipReason {
	if !syncable(f) {
		return skipState
	}
	if fl.Local(f) {
		return skipLocal
	}
	if fl.ExcludeMask != 0 && f.Mark&fl.ExcludeMask == fl.ExcludeMark&fl.ExcludeMask {
		return skipMark
	}
	return syncIt
}

// Local reports whether f is a connection to or from the unit itself:
// its originator is a local address (the unit opened it), or its replies
// come from a local address (it terminates on the unit, including after
// a REDIRECT to a local proxy), or it is addressed to a multicast or
// broadcast address. A forwarded flow that is SNAT'd to a unit's address
// is not local: only its reply destination is.
func (fl *Filter) Local(f *Flow) bool {
	if fl.IsLocal(f.Orig.Src) || fl.IsLocal(f.Reply.Src) {
		return true
	}
	d := f.Orig.Dst
	return d.IsMulticast() || d == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
