// Package catalog holds tandem's platform facts as data: for every
// hardware model its platform class, whether it supports high
// availability, its port map (X0..Xn with nominal speed, default network
// device and the dedicated HA port where one exists) and its row of the
// HA licence table (SPEC PLAT-1, LIC-1).
//
// The facts live in data/models.json, embedded at build time and checked
// when the package initializes: a malformed file panics at start-up with
// the reason, so a bad edit can never reach a running unit.
//
// Port maps are representative, not exact chassis drawings: the number
// of ports, their speeds and the HA port follow the published data
// sheets closely enough for validation (PLAT-1, PLAT-5), and a unit's
// real mapping can always be overridden in /platform/ports. Ports are
// given in the data file as groups ({"count": 12, "speed": 1000}) and
// numbered X0, X1, ... in order; the default network device of port Xn
// is the model's netdev-prefix (default "x") followed by n.
//
// The licence table follows the SonicWall guide (seed 000). Where the
// guide says "Expanded license" or "HA license" / "Stateful HA Upgrade
// License", the satisfying licences are the tandem-licensing licence
// enum values expanded and stateful-ha; for A/A clustering and A/A DPI
// the feature's own licence (aa-clustering, aa-dpi) is accepted as well
// as expanded. The lab and linux models include everything.
package catalog

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/gen/tandem"
)

//go:embed data/models.json
var modelsJSON []byte

// Class is a platform class, as in the tandem-platform class enum.
type Class string

// The platform classes.
const (
	ClassSOHO  Class = "soho"
	ClassTZ    Class = "tz"
	ClassNSA   Class = "nsa"
	ClassSM    Class = "sm"
	ClassLab   Class = "lab"
	ClassLinux Class = "linux"
)

// Feature is a licensed HA feature, as in the tandem-licensing feature
// enum.
type Feature string

// The licensed HA features (LIC-1).
const (
	ActiveStandby Feature = "active-standby"
	StatefulHA    Feature = "stateful-ha"
	AAClustering  Feature = "aa-clustering"
	AADPI         Feature = "aa-dpi"
)

// Features lists every licensed feature in table order.
var Features = []Feature{ActiveStandby, StatefulHA, AAClustering, AADPI}

// Status says whether a feature can be used on a model.
type Status string

// The availability statuses of the licence table.
const (
	// Included: the feature comes with the platform.
	Included Status = "included"
	// Licence: the feature needs one of Availability.Licences.
	Licence Status = "licence"
	// NotAvailable: the platform cannot run the feature at all.
	NotAvailable Status = "not-available"
)

// Availability is one cell of the licence table.
type Availability struct {
	// Status is included, licence or not-available.
	Status Status `json:"availability"`
	// Licences are the tandem-licensing licence names (expanded,
	// stateful-ha, aa-clustering, aa-dpi) any one of which unlocks the
	// feature; set only when Status is Licence.
	Licences []string `json:"licences,omitempty"`
}

// SatisfiedBy reports whether a unit holding the given licences (licence
// enum names) may use the feature.
func (a Availability) SatisfiedBy(held []string) bool {
	switch a.Status {
	case Included:
		return true
	case Licence:
		for _, l := range a.Licences {
			if slices.Contains(held, l) {
				return true
			}
		}
	}
	return false
}

// Port is one logical port of a model's port map.
type Port struct {
	// Name is the logical port, X0, X1, ...
	Name string
	// Speed is the nominal speed in megabits per second.
	Speed uint32
	// Netdev is the default network device the port maps to.
	Netdev string
	// HA is true for the port the chassis labels as the HA port.
	HA bool
}

// Model is everything the catalog knows about one hardware model.
type Model struct {
	// Name is the model name as configured in /platform/config/model.
	Name string
	// Class is the platform class.
	Class Class
	// HA is false for models that cannot run high availability at all.
	HA bool
	// Ports is the port map, X0 first.
	Ports []Port

	features map[Feature]Availability
}

// Feature returns the licence table entry of f; an unknown feature is
// not available.
func (m Model) Feature(f Feature) Availability {
	a, ok := m.features[f]
	if !ok {
		return Availability{Status: NotAvailable}
	}
	a.Licences = slices.Clone(a.Licences)
	return a
}

// PortCount returns the number of ports in the model's port map.
func (m Model) PortCount() int { return len(m.Ports) }

// Port returns the port called name (X0, X1, ...).
func (m Model) Port(name string) (Port, bool) {
	for _, p := range m.Ports {
		if p.Name == name {
			return p, true
		}
	}
	return Port{}, false
}

// HAPort returns the port labelled HA on the chassis, if the model has
// one.
func (m Model) HAPort() (Port, bool) {
	for _, p := range m.Ports {
		if p.HA {
			return p, true
		}
	}
	return Port{}, false
}

// PortRange renders the model's port names compactly, such as "X0..X9".
func (m Model) PortRange() string {
	if len(m.Ports) == 0 {
		return "none"
	}
	return m.Ports[0].Name + ".." + m.Ports[len(m.Ports)-1].Name
}

// clone returns a deep copy so that callers cannot change the catalog.
func (m Model) clone() Model {
	m.Ports = slices.Clone(m.Ports)
	return m
}

var models map[string]Model

func init() {
	m, err := parse(modelsJSON)
	if err != nil {
		panic("catalog: embedded data/models.json is invalid: " + err.Error())
	}
	models = m
}

// Lookup returns the model called name (such as nsa-6600 or lab).
func Lookup(name string) (Model, bool) {
	m, ok := models[name]
	if !ok {
		return Model{}, false
	}
	return m.clone(), true
}

// Names lists every known model name, sorted.
func Names() []string {
	out := make([]string, 0, len(models))
	for n := range models {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// The on-disk format of data/models.json.
type fileData struct {
	Comment string      `json:"comment"`
	Models  []fileModel `json:"models"`
}

type fileModel struct {
	Name         string                   `json:"name"`
	Class        Class                    `json:"class"`
	HA           *bool                    `json:"ha"`
	NetdevPrefix string                   `json:"netdev-prefix"`
	Ports        []filePortGroup          `json:"ports"`
	HAPort       string                   `json:"ha-port"`
	Features     map[Feature]Availability `json:"features"`
}

type filePortGroup struct {
	Count int    `json:"count"`
	Speed uint32 `json:"speed"`
}

// maxPorts is the largest port count the YANG allows (device port-count
// range 1..64).
const maxPorts = 64

// parse decodes and checks the catalog data.
func parse(data []byte) (map[string]Model, error) {
	var f fileData
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if len(f.Models) == 0 {
		return nil, fmt.Errorf("no models")
	}
	licences := map[string]bool{}
	for _, def := range tandem.ΛEnum["E_TandemLicensing_Licence"] {
		licences[def.Name] = true
	}
	out := map[string]Model{}
	for i, fm := range f.Models {
		where := fmt.Sprintf("models[%d] (%q)", i, fm.Name)
		if fm.Name == "" || len(fm.Name) > 64 {
			return nil, fmt.Errorf("%s: name must be 1..64 characters", where)
		}
		if _, dup := out[fm.Name]; dup {
			return nil, fmt.Errorf("%s: duplicate model", where)
		}
		switch fm.Class {
		case ClassSOHO, ClassTZ, ClassNSA, ClassSM, ClassLab, ClassLinux:
		default:
			return nil, fmt.Errorf("%s: unknown class %q", where, fm.Class)
		}
		if fm.HA == nil {
			return nil, fmt.Errorf("%s: \"ha\" is missing", where)
		}
		prefix := fm.NetdevPrefix
		if prefix == "" {
			prefix = "x"
		}
		m := Model{Name: fm.Name, Class: fm.Class, HA: *fm.HA, features: map[Feature]Availability{}}
		for j, g := range fm.Ports {
			if g.Count < 1 || g.Speed == 0 {
				return nil, fmt.Errorf("%s: ports[%d]: count and speed must be positive", where, j)
			}
			for k := 0; k < g.Count; k++ {
				n := len(m.Ports)
				m.Ports = append(m.Ports, Port{Name: fmt.Sprintf("X%d", n), Speed: g.Speed, Netdev: fmt.Sprintf("%s%d", prefix, n)})
			}
		}
		if len(m.Ports) == 0 || len(m.Ports) > maxPorts {
			return nil, fmt.Errorf("%s: %d ports; must be 1..%d", where, len(m.Ports), maxPorts)
		}
		if fm.HAPort != "" {
			found := false
			for k := range m.Ports {
				if m.Ports[k].Name == fm.HAPort {
					m.Ports[k].HA = true
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("%s: ha-port %s is not in the port map %s", where, fm.HAPort, m.PortRange())
			}
		}
		for f := range fm.Features {
			if !slices.Contains(Features, f) {
				return nil, fmt.Errorf("%s: unknown feature %q", where, f)
			}
		}
		for _, feat := range Features {
			a, ok := fm.Features[feat]
			if !ok {
				return nil, fmt.Errorf("%s: feature %s is missing", where, feat)
			}
			switch a.Status {
			case Included, NotAvailable:
				if len(a.Licences) > 0 {
					return nil, fmt.Errorf("%s: feature %s is %s and lists licences", where, feat, a.Status)
				}
			case Licence:
				if len(a.Licences) == 0 {
					return nil, fmt.Errorf("%s: feature %s needs a licence but lists none", where, feat)
				}
				for _, l := range a.Licences {
					if !licences[l] {
						return nil, fmt.Errorf("%s: feature %s: %q is not a tandem-licensing licence", where, feat, l)
					}
				}
			default:
				return nil, fmt.Errorf("%s: feature %s: unknown availability %q", where, feat, a.Status)
			}
			if !m.HA && a.Status != NotAvailable {
				return nil, fmt.Errorf("%s: model without HA offers feature %s", where, feat)
			}
			m.features[feat] = a
		}
		out[m.Name] = m
	}
	return out, nil
}
