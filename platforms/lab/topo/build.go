package topo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Options describe the lab to build.
type Options struct {
	// Name prefixes every namespace (at most 12 characters, [a-z0-9-]).
	Name string
	// Dir keeps the lab's state, configurations, data and logs.
	Dir string
	// Tandemd is the tandemd binary each unit gets a copy of, its own
	// firmware, when it is first started.
	Tandemd string
	// PluginDir is the plugin directory of the units.
	PluginDir string
}

// forwardPolicy is the firewall units' stateful forward policy (DESIGN.md,
// "The lab"): only established and related traffic, plus new connections
// from the LAN to the WAN, source-NATed to the WAN virtual address. With
// nf_conntrack_tcp_loose=0 a session can only cross a unit whose
// connection table knows it, NAT binding included.
var forwardPolicy = `table inet tandem_lab {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname { "x0", "x0v" } oifname { "x1", "x1v" } ct state new accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		iifname { "x0", "x0v" } oifname { "x1", "x1v" } snat ip to ` + strings.TrimSuffix(WANVirtual, "/24") + `
	}
}
`

// Up builds the lab and starts tandemd in both units. On failure it
// removes whatever it had built.
func Up(opts Options) (l *Lab, err error) {
	if !validName.MatchString(opts.Name) {
		return nil, fmt.Errorf("lab name %q: use 1 to 12 characters a-z, 0-9 and -, starting with a letter", opts.Name)
	}
	for _, bin := range []string{opts.Tandemd, filepath.Join(opts.PluginDir, "tandem-platform-lab")} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%s is missing: run 'make build' first", bin)
		}
	}
	if _, err := os.Stat(statePath(opts.Dir)); err == nil {
		return nil, fmt.Errorf("a lab is already up in %s; run 'tandemctl lab down' first", opts.Dir)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	lab := &Lab{Name: opts.Name, Dir: opts.Dir, Options: opts}
	l = lab
	for i, name := range []string{"fw1", "fw2"} {
		l.Units = append(l.Units, &Unit{
			Name:      name,
			Serial:    fmt.Sprintf("LAB-FW%d", i+1),
			Namespace: l.Namespace(name),
			Socket:    filepath.Join(opts.Dir, name+".sock"),
			Log:       filepath.Join(opts.Dir, name+".log"),
		})
	}
	defer func() {
		if err != nil {
			_ = lab.Down() // l is nil by now
		}
	}()
	if err := l.save(); err != nil {
		return nil, err
	}
	if err := l.buildNetwork(); err != nil {
		return nil, err
	}
	for _, u := range l.Units {
		if err := l.start(u, opts); err != nil {
			return nil, err
		}
	}
	return l, l.save()
}

// hosts lists every namespace of the lab.
func (l *Lab) hosts() []string { return []string{"switch", "client", "server", "fw1", "fw2"} }

func (l *Lab) buildNetwork() error {
	sw := l.Namespace("switch")
	for _, h := range l.hosts() {
		if err := run("ip", "netns", "add", l.Namespace(h)); err != nil {
			return err
		}
		if err := run("ip", "-n", l.Namespace(h), "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	for _, s := range Segments {
		br := "br-" + s.Name
		if err := run("ip", "-n", sw, "link", "add", br, "type", "bridge"); err != nil {
			return err
		}
		if err := run("ip", "-n", sw, "link", "set", br, "up"); err != nil {
			return err
		}
	}
	// Client and server: one leg each, addressed, routed via the virtual
	// addresses of the pair.
	for _, h := range []struct{ host, seg, addr, gw string }{
		{"client", "lan", ClientAddr, strings.Split(LANVirtual, "/")[0]},
		{"server", "wan", ServerAddr, strings.Split(WANVirtual, "/")[0]},
	} {
		ns := l.Namespace(h.host)
		if err := l.plug(h.host, h.seg, "eth0"); err != nil {
			return err
		}
		for _, args := range [][]string{
			{"-n", ns, "addr", "add", h.addr, "dev", "eth0"},
			{"-n", ns, "link", "set", "eth0", "up"},
			{"-n", ns, "route", "add", "default", "via", h.gw},
		} {
			if err := run("ip", args...); err != nil {
				return err
			}
		}
	}
	// Firewalls: a port on every segment (brought up by tandemd), IPv4
	// forwarding, the stateful forward policy, strict TCP tracking.
	for _, u := range l.Units {
		for i, s := range Segments {
			if err := l.plug(u.Name, s.Name, fmt.Sprintf("x%d", i)); err != nil {
				return err
			}
		}
		if err := writeSysctl(u.Namespace, "net.ipv4.ip_forward", "1"); err != nil {
			return err
		}
		cmd := exec.Command("ip", "netns", "exec", u.Namespace, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(forwardPolicy)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nftables forward policy in %s: %v: %s", u.Namespace, err, out)
		}
		if err := writeSysctl(u.Namespace, "net.netfilter.nf_conntrack_tcp_loose", "0"); err != nil {
			return err
		}
	}
	return nil
}

// plug connects a host to a segment with a veth pair: dev in the host,
// <host>-<segment> on the segment's bridge in the switch namespace.
func (l *Lab) plug(host, seg, dev string) error {
	sw := l.Namespace("switch")
	peer := host + "-" + seg
	if err := run("ip", "-n", sw, "link", "add", peer, "type", "veth", "peer", "name", dev, "netns", l.Namespace(host)); err != nil {
		return err
	}
	return run("ip", "-n", sw, "link", "set", peer, "master", "br-"+seg, "up")
}

// start writes the unit's first configuration and starts its tandemd in
// its own session, so that it outlives the command that started it.
func (l *Lab) start(u *Unit, opts Options) error {
	cfg := filepath.Join(l.Dir, u.Name+".json")
	if err := os.WriteFile(cfg, []byte(PairConfig), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(u.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	exe, err := l.firmware(u, opts.Tandemd)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", u.Namespace, exe,
		"-data", filepath.Join(l.Dir, u.Name), "-plugins", opts.PluginDir,
		"-socket", u.Socket, "-serial", u.Serial, "-config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start tandemd in %s: %w", u.Namespace, err)
	}
	u.PID = cmd.Process.Pid
	// Reap it when it ends, so that a long-lived caller (the e2e tests,
	// the benchmarks) does not collect zombies; a short one (tandemctl
	// lab up) exits first and leaves tandemd to init.
	go func() { _ = cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(u.Socket); err == nil {
			return nil
		}
		if !alive(u.PID) {
			return fmt.Errorf("tandemd of %s exited at start; see %s", u.Name, u.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tandemd of %s did not open %s within 15 s; see %s", u.Name, u.Socket, u.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// firmware returns the unit's own tandemd, a copy of tandemd made when
// the unit is first started: each unit has its own firmware, as an
// appliance does, so that upgrading one (upgrade-firmware replaces the
// executable) leaves the other as it was, and a reboot keeps the upgrade.
func (l *Lab) firmware(u *Unit, tandemd string) (string, error) {
	exe := filepath.Join(l.Dir, "firmware", u.Name, "tandemd")
	if _, err := os.Stat(exe); err == nil {
		return exe, nil
	}
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		return "", err
	}
	src, err := os.ReadFile(tandemd)
	if err != nil {
		return "", fmt.Errorf("tandemd for %s: %w", u.Name, err)
	}
	if err := os.WriteFile(exe, src, 0o755); err != nil {
		return "", fmt.Errorf("tandemd for %s: %w", u.Name, err)
	}
	return exe, nil
}

// alive reports whether a process exists (and is not a zombie we own).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state is the field after the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// Down stops the units and removes every namespace of the lab and its
// state file. It carries on past errors and reports them together.
func (l *Lab) Down() error {
	var errs []error
	for _, u := range l.Units {
		stop(u.PID)
		u.PID = 0
	}
	for _, h := range l.hosts() {
		ns := l.Namespace(h)
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		if err := run("ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(l.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stop ends a tandemd and its plugins (its session's process group):
// SIGTERM, then SIGKILL after 3 s.
func stop(pid int) {
	if !alive(pid) {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for i := 0; i < 60 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
