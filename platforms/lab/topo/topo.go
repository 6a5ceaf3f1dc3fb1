// Package topo builds the tandem lab on one Linux host: network
// namespaces for a client, two firewall units and a server, joined by
// bridged segments (LAN, WAN, HA control, backup HA) that live in a
// switch namespace of their own, so the host's namespace is never
// touched. Each firewall runs tandemd with the lab platform driver. The
// lab's state is kept in a file so that later commands (status, kill,
// cut, restore, down) find what up built.
package topo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Segment is one layer-2 network of the lab.
type Segment struct {
	// Name is lan, wan, ha or ha-backup.
	Name string
	// Port is the firewall port attached to it (X0, X1, ...).
	Port string
	// Prefix is the segment's IPv4 network.
	Prefix string
}

// Segments of the lab, in port order.
var Segments = []Segment{
	{Name: "lan", Port: "X0", Prefix: "192.0.2.0/24"},
	{Name: "wan", Port: "X1", Prefix: "198.51.100.0/24"},
	{Name: "ha", Port: "X2", Prefix: "169.254.10.0/29"},
	{Name: "ha-backup", Port: "X3", Prefix: "169.254.11.0/29"},
}

// Addresses of the lab hosts.
const (
	ClientAddr = "192.0.2.10/24"
	ServerAddr = "198.51.100.10/24"
	LANVirtual = "192.0.2.1/24"
	WANVirtual = "198.51.100.1/24"
)

// Unit is one firewall of the lab.
type Unit struct {
	// Name is fw1 or fw2.
	Name string `json:"name"`
	// Serial is the serial number tandemd runs with.
	Serial string `json:"serial"`
	// Namespace is the unit's network namespace.
	Namespace string `json:"namespace"`
	// Socket is the unit's local API socket.
	Socket string `json:"socket"`
	// PID is tandemd's process id (0 when not running).
	PID int `json:"pid"`
	// Log is tandemd's log file.
	Log string `json:"log"`
}

// Lab is a built lab, as recorded in its state file.
type Lab struct {
	// Name prefixes every namespace of the lab.
	Name string `json:"name"`
	// Dir holds the state file, configurations, data and logs.
	Dir string `json:"dir"`
	// Units are the firewalls.
	Units []*Unit `json:"units"`
	// Options are what the lab was built with, to boot a unit again.
	Options Options `json:"options"`
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,11}$`)

// Namespace returns the namespace name of a lab host: client, server,
// switch, fw1 or fw2.
func (l *Lab) Namespace(host string) string { return l.Name + "-" + host }

// Unit returns the firewall called name.
func (l *Lab) Unit(name string) (*Unit, error) {
	for _, u := range l.Units {
		if u.Name == name {
			return u, nil
		}
	}
	return nil, fmt.Errorf("lab %s has no unit %q; units are fw1 and fw2", l.Name, name)
}

func statePath(dir string) string { return filepath.Join(dir, "lab.json") }

// Load reads the state of the lab kept in dir.
func Load(dir string) (*Lab, error) {
	b, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no lab in %s; start one with 'tandemctl lab up'", dir)
	}
	if err != nil {
		return nil, err
	}
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("lab state %s: %w", statePath(dir), err)
	}
	return &l, nil
}

func (l *Lab) save() error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(statePath(l.Dir), b, 0o600)
}

// run executes a command and returns its error with the command's output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// inNS runs a command inside a namespace.
func inNS(ns, name string, args ...string) error {
	return run("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// writeSysctl sets a sysctl of a namespace through /proc/sys.
func writeSysctl(ns, key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	return inNS(ns, "sh", "-c", fmt.Sprintf("echo %s > %s", value, path))
}
