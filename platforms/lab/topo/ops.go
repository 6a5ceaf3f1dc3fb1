package topo

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Kill powers a unit off: SIGKILL to its tandemd and plugins, and every
// port of the unit down, so that its neighbours lose carrier as they
// would when the power is pulled.
func (l *Lab) Kill(unit string) error {
	u, err := l.Unit(unit)
	if err != nil {
		return err
	}
	if alive(u.PID) {
		_ = syscall.Kill(-u.PID, syscall.SIGKILL)
	}
	for i := range Segments {
		if err := run("ip", "-n", u.Namespace, "link", "set", fmt.Sprintf("x%d", i), "down"); err != nil {
			return err
		}
	}
	u.PID = 0
	return l.save()
}

// Boot powers a killed unit on again: its ports up, tandemd started with
// its data directory as it was (a reboot, not a new unit).
func (l *Lab) Boot(unit string) error {
	u, err := l.Unit(unit)
	if err != nil {
		return err
	}
	if alive(u.PID) {
		return fmt.Errorf("%s is running (tandemd pid %d); kill it first", unit, u.PID)
	}
	for i := range Segments {
		if err := run("ip", "-n", u.Namespace, "link", "set", fmt.Sprintf("x%d", i), "up"); err != nil {
			return err
		}
	}
	if err := os.Remove(u.Socket); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := l.start(u, l.Options); err != nil {
		return err
	}
	return l.save()
}

// Cut pulls a cable: link is UNIT:SEGMENT, such as fw1:ha. The unit's
// port loses carrier; nothing else changes.
func (l *Lab) Cut(link string) error { return l.setCable(link, "down") }

// Restore plugs a cut cable back in.
func (l *Lab) Restore(link string) error { return l.setCable(link, "up") }

func (l *Lab) setCable(link, state string) error {
	host, seg, ok := strings.Cut(link, ":")
	if !ok {
		return fmt.Errorf("link %q: write UNIT:SEGMENT, such as fw1:ha (segments: %s)", link, segmentNames())
	}
	if _, err := l.Unit(host); err != nil && host != "client" && host != "server" {
		return err
	}
	found := false
	for _, s := range Segments {
		found = found || s.Name == seg
	}
	if !found {
		return fmt.Errorf("link %q: no segment %q (segments: %s)", link, seg, segmentNames())
	}
	return run("ip", "-n", l.Namespace("switch"), "link", "set", host+"-"+seg, state)
}

func segmentNames() string {
	var names []string
	for _, s := range Segments {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// HostStatus says whether one namespace of the lab exists.
type HostStatus struct {
	Host      string `json:"host"`
	Namespace string `json:"namespace"`
	Present   bool   `json:"present"`
}

// UnitStatus says whether a unit's tandemd runs.
type UnitStatus struct {
	Unit    string `json:"unit"`
	Serial  string `json:"serial"`
	PID     int    `json:"pid"`
	Running bool   `json:"running"`
	Socket  string `json:"socket"`
	Log     string `json:"log"`
}

// Status reports the lab's namespaces and units.
func (l *Lab) Status() ([]HostStatus, []UnitStatus) {
	var hosts []HostStatus
	for _, h := range l.hosts() {
		_, err := os.Stat("/run/netns/" + l.Namespace(h))
		hosts = append(hosts, HostStatus{Host: h, Namespace: l.Namespace(h), Present: err == nil})
	}
	var units []UnitStatus
	for _, u := range l.Units {
		units = append(units, UnitStatus{Unit: u.Name, Serial: u.Serial, PID: u.PID, Running: alive(u.PID), Socket: u.Socket, Log: u.Log})
	}
	return hosts, units
}
