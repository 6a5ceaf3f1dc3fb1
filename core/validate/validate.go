// Package validate checks a candidate configuration before it is
// committed: the YANG constraints (types, ranges, patterns, keys,
// leafrefs, through model.Validate) plus the semantic rules of SPEC.md
// that need nothing but the configuration itself (modes, roles,
// monitoring, licences, clustering, DPI, platform). Runtime facts
// (firmware versions, link state, which unit is local) belong to the HA
// engine, not here.
//
// Every problem is an Issue naming the YANG path, the SPEC rule, what is
// wrong and what to do. Validate reports all issues of a configuration
// together, sorted by path; errors refuse the commit, warnings do not.
//
// # Decisions
//
// Where SPEC.md and the seeds are silent, this package decides as
// follows.
//
//   - Effective values. An unset leaf (nil pointer, UNSET enum) takes its
//     YANG default: mode standalone, stateful-sync false, zone
//     unassigned, platform model "lab", device model = platform model.
//     "Cannot be disabled" rules (MODE-3 stateful-sync, CLU-14
//     physical-monitoring) fire only on an explicit false.
//   - Mandatory leaves. ygot does not enforce YANG "mandatory true"; the
//     leaves this package relies on (device designation, link port,
//     redundant-port) are checked here and reported with rule "YANG".
//     YANG errors carry the schema path ygot gives (without list keys).
//   - Pair composition (ROLE-1) is checked as part of MODE-1: a pair
//     mode holds at most two units, at most one primary and one
//     secondary. Inside a cluster the same holds per node (MODE-4).
//     Devices are optional: a configuration without /ha/devices is
//     accepted, and the rules that need units (ROLE-5, LIC-5, PLAT-5)
//     then judge what is there.
//   - MODE-1: any /cluster node, virtual group or redundant port, or a
//     device cluster-node, while mode is not active-active-cluster is an
//     error (the configuration would be silently ignored). A node with
//     A/A DPI must be a stateful node and, when its units are configured,
//     a pair. Cluster mode needs at least one node.
//   - MODE-2: stateful-sync true needs an HA mode. MODE-3: A/A DPI mode
//     needs the dpi link and refuses stateful-sync explicitly false;
//     preempt true is a warning.
//   - MODE-5: a device whose model is set must equal the platform model
//     (so all members are equal). Firmware is a runtime check.
//   - ROLE-5 is checked only when an HA mode is on: active-if-equal
//     primary or secondary needs a device with that designation.
//   - LIC-1: features used are: active-standby mode -> active-standby;
//     active-active-dpi mode -> aa-dpi and stateful-ha (sync is forced);
//     cluster mode -> aa-clustering; a cluster node with A/A DPI -> aa-dpi
//     and stateful-ha; stateful-sync true in an HA mode -> stateful-ha.
//     The licence table is the platform model's (core/catalog). A
//     licence-gated feature must be held by the primary unit of each
//     pair (each cluster node); the secondary shares it (LIC-2), unless
//     /licensing/config/share-licences is explicitly false, then every
//     unit needs it. Without devices, a licence on any licensing unit
//     entry is accepted; a pair/node without a primary needs it on all
//     its units. The issue's path is where the feature is used.
//   - LIC-5: in an HA mode, a pair (cluster node) whose two units both
//     have ha-licence-type backup, or a cluster (or, without devices, a
//     set of licensing units) whose units are all backup, is refused at
//     each such unit's ha-licence-type.
//   - MON-4 applies to /monitoring and to every cluster node's
//     monitoring (MON-6), in every mode, to IPv6 as the seed says and to
//     IPv4 by analogy: a primary/secondary monitoring address that is
//     set and not unspecified (:: or 0.0.0.0) must lie inside one of the
//     interface's prefixes of its family (interface addresses, plus VG
//     virtual addresses in cluster mode), must differ from those
//     addresses, must not be link-local (fe80::/10, 169.254.0.0/16);
//     primary and secondary must differ; allow-management needs both
//     (only the primary on a single-unit cluster node); logical-probe
//     needs a probe address.
//   - MON-5 applies whenever an HA mode is on, per pair (/monitoring)
//     or per cluster node. An interface "has monitoring addresses" when
//     its IPv4 or IPv6 primary and secondary addresses are both set
//     (only the primary on a single-unit node). If no WAN (zone wan)
//     interface has them, X0 must; if only WAN interfaces have them,
//     every WAN interface with an address (virtual IP) must.
//   - MON-6: /monitoring/interfaces entries in cluster mode are ignored
//     by the engine: a warning says to move them under the nodes.
//   - CLU-2: virtual groups only in cluster mode; a VG id above the
//     number of nodes has no owner (error); node-rank names existing
//     nodes without repeats; a VG address sits on an interface with a
//     zone (not unassigned/ha-data-link, not an HA link); one address
//     belongs to one VG and one interface. Interface addresses are VG1's.
//   - CLU-13 is checked per address family: a VG n>1 IPv4 (IPv6)
//     address on an interface needs a VG1 IPv4 (IPv6) address there.
//   - CLU-14: in cluster mode, an explicit physical-monitoring false on
//     a monitored interface that carries virtual addresses is refused.
//   - DPI-2 owns the checks of the dpi and dpi-2 links (port unassigned
//     or ha-data-link, no addresses, no NAT, dpi-2 needs dpi and another
//     port, used only by A/A DPI); PLAT-3 owns those of control, data
//     and backup-control (backup-control on X0 is exempt from the
//     "unassigned" part, X0 being the default backup path) and the rule
//     that all HA links use different ports. An ha-data-link zone on a
//     port that is no DPI link is a warning.
//   - PLAT-1: the platform and device models must be known; a model
//     without HA (soho-w) refuses every HA mode; every port named
//     anywhere must be in the port map. The port map is the platform
//     model's; when every device sets the same larger port-count
//     (expansion modules) the ports up to that count exist too.
//   - PLAT-4 applies whenever an HA mode is on.
//   - TKO-6: with aggregates-up-on-passive false in a pair mode, an
//     enabled interface with link-aggregate true on a port that carries
//     an HA link is refused: the passive unit keeps HA links up, so it
//     could not hold that aggregate down. In standalone and cluster
//     modes the option is ignored (no unit is passive).
//   - PLAT-5: effective port count = device port-count, else its
//     model's port map; every device must match the first device
//     (primary first, then by serial).
package validate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// Issue is one problem found in a configuration.
type Issue struct {
	// Path is the YANG path of the offending node, with list keys, such
	// as /interfaces/interface[name=X3]/config/zone.
	Path string
	// Rule is the SPEC.md rule ID (MODE-3, PLAT-1, ...) or "YANG" for a
	// schema violation.
	Rule string
	// Message says what is wrong.
	Message string
	// Fix says what to do about it.
	Fix string
}

// Error renders the issue as "<path>: <rule>: <message>; fix: <fix>".
func (i Issue) Error() string {
	return fmt.Sprintf("%s: %s: %s; fix: %s", i.Path, i.Rule, i.Message, i.Fix)
}

// Errors is a list of issues that refuses a configuration.
type Errors []Issue

// Error renders all issues, one per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, is := range e {
		lines[i] = is.Error()
	}
	return strings.Join(lines, "\n")
}

// Report is the outcome of Validate.
type Report struct {
	// Errors refuse the configuration.
	Errors []Issue
	// Warnings are shown to the user but do not refuse it.
	Warnings []Issue
}

// Err returns nil when the report has no errors, else the errors as an
// Errors value.
func (r Report) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	return Errors(r.Errors)
}

// Validate checks d against the YANG schema and the configuration rules
// of SPEC.md and returns every issue found, sorted by path. A nil d is
// treated as an empty configuration.
func Validate(d *tandem.Device) Report {
	if d == nil {
		d = &tandem.Device{}
	}
	c := newChecker(d)
	c.yang()
	c.run()
	return Report{Errors: sortIssues(c.errs), Warnings: sortIssues(c.warns)}
}

// StoreValidator adapts Validate to the datastore's injected validator:
// the warnings as strings, and the errors (an Errors value) or nil.
func StoreValidator(d *tandem.Device) ([]string, error) {
	r := Validate(d)
	var warns []string
	for _, w := range r.Warnings {
		warns = append(warns, w.Error())
	}
	return warns, r.Err()
}

// sortIssues sorts by path, rule and message and drops exact duplicates.
func sortIssues(in []Issue) []Issue {
	sort.SliceStable(in, func(a, b int) bool {
		x, y := in[a], in[b]
		if x.Path != y.Path {
			return x.Path < y.Path
		}
		if x.Rule != y.Rule {
			return x.Rule < y.Rule
		}
		return x.Message < y.Message
	})
	out := in[:0]
	for i, is := range in {
		if i > 0 && is == in[i-1] {
			continue
		}
		out = append(out, is)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
