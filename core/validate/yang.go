package validate

import (
	"errors"
	"sort"
	"strings"

	"github.com/tandem-ha/tandem/core/model"
)

// yang runs the schema validation and maps each ygot error to an Issue,
// then checks the mandatory leaves ygot does not enforce.
func (c *checker) yang() {
	for _, err := range model.Validate(c.d) {
		var pe *model.PathError
		if errors.As(err, &pe) {
			c.errf(pe.Path, "YANG", "correct the value so that it matches the YANG schema (yang/*.yang)", "%s", pe.Msg)
			continue
		}
		path, msg := splitYANGError(err.Error())
		c.errf(path, "YANG", "correct the value so that it matches the YANG schema (yang/*.yang)", "%s", msg)
	}
	if c.d.GetHa().GetDevices() != nil {
		for _, s := range sortedKeys(c.d.Ha.Devices.Device) {
			if c.d.Ha.Devices.Device[s].GetConfig().GetDesignation() == 0 {
				c.errf(devPath(s)+"/config/designation", "YANG",
					"set it to primary or secondary", "mandatory leaf designation of unit %s is missing", s)
			}
		}
	}
	for _, l := range c.links {
		if l.port == "" {
			c.errf(linkPath(l.fn)+"/config/port", "YANG", "set the port that carries the link",
				"mandatory leaf port of HA link %s is missing", l.fn)
		}
	}
	if rp := c.d.GetCluster().GetRedundantPorts(); rp != nil {
		for _, p := range sortedKeys(rp.RedundantPort) {
			if rp.RedundantPort[p].GetConfig().GetRedundantPort() == "" {
				c.errf(rpPath(p)+"/config/redundant-port", "YANG", "set the unused port that backs "+p,
					"mandatory leaf redundant-port of redundant port %s is missing", p)
			}
		}
	}
}

// splitYANGError extracts the deepest schema path from a ygot error such
// as "/device/interfaces: /device/interfaces/interface: /device/...:
// schema ...: message" and returns it without the /device root, with the
// remaining message.
func splitYANGError(s string) (path, msg string) {
	parts := strings.Split(s, ": ")
	i := 0
	for i < len(parts) && strings.HasPrefix(parts[i], "/") && !strings.ContainsAny(parts[i], " \"") {
		path = parts[i]
		i++
	}
	msg = strings.Join(parts[i:], ": ")
	path = strings.TrimPrefix(path, "/device")
	if path == "" {
		path = "/"
	}
	if msg == "" {
		msg = s
	}
	return path, msg
}

// sortedKeys returns the keys of a map sorted.
func sortedKeys[K ~string | ~uint8, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}
