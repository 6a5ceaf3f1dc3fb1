package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// keepalivedStack runs the reference: keepalived (VRRPv3) with conntrackd
// in the lab's firewall namespaces instead of tandemd, as stateful Linux
// firewall pairs run them. keepalived alone is no stateful reference: the
// units track connections (nf_conntrack) with nf_conntrack_tcp_loose=0 and
// forward only established traffic and new LAN-to-WAN connections, so a
// unit without its peer's conntrack entries drops every mid-stream segment
// of the TCP sessions it takes over (and has no NAT binding for them).
// conntrackd replicates the master's conntrack entries to the backup,
// which keeps them in its external cache and commits them to its kernel
// table when keepalived makes it master.
//
// topo has no option to build the lab without tandemd, so Prepare turns a
// freshly built lab into a keepalived + conntrackd pair:
//
//  1. SIGKILL to each unit's tandemd process group (tandemd and its
//     plugins) and a wait until no process is left in either firewall
//     namespace;
//  2. every address flushed from x0..x3 and tandem's own nftables table
//     (inet tandem: the HA-link and management input rules) deleted; the
//     lab's stateful forward policy (inet tandem_lab) stays; the ports stay
//     up (tandemd brought them up and nothing took them down);
//  3. the unit addresses tandem used put back: fw1 192.0.2.2, 198.51.100.2,
//     169.254.10.1; fw2 192.0.2.3, 198.51.100.3, 169.254.10.2;
//  4. in fw1, then in fw2: conntrackd started in a process group of its
//     own and, once its control socket is up, keepalived -P (VRRP only)
//     in the same group; the group (conntrackd's PID) is recorded as the
//     unit's PID, so that topo's Kill and Down treat the unit exactly as
//     they treat tandemd: one SIGKILL to the process group ends keepalived
//     and conntrackd in the same instant, as a power loss would, then every
//     port goes down.
//
// The configuration: two VRRPv3 instances (LAN VIP 192.0.2.1/24 on x0, WAN
// VIP 198.51.100.1/24 on x1) in one sync group, advertised by unicast over
// the HA link X2, advert_int = the heartbeat interval, x0 and x1 tracked.
// fw1 starts MASTER with priority 254, fw2 BACKUP with 253.
//
// Failure detection: VRRPv3's Master_Down_Interval is 3 x advert_int +
// Skew_Time, Skew_Time = (256 - priority) x advert_int / 256 (RFC 5798
// 6.1). With the backup at priority 253 that is 3.012 x advert_int: the
// closest keepalived gets to tandem's interval x 3. The multiple 3 is fixed
// by the RFC; other multiples are run with 3 and flagged.
//
// conntrackd (after /usr/share/doc/conntrackd/examples/sync/ftfw): FTFW
// mode, unicast UDP over the HA link X2 between the unit addresses, port
// ctdPort; TCP and UDP entries, except those of the units' own and virtual
// addresses. Configuration, lock file, control socket and logs are per
// unit in the lab's directory (conntrackd-fw1.conf, ...), so that the two
// instances coexist. The sync group's notify_master, notify_backup and
// notify_fault run a per-unit script with the sequence of conntrackd's
// primary-backup.sh: master: commit the external cache to the kernel (-c),
// flush the caches (-f), resync the internal cache with the kernel (-R),
// bulk send to the backup (-B); backup: check that conntrackd runs (-s),
// shorten the kernel's timers (-t), ask the master for a resync (-n);
// fault: -t.
type keepalivedStack struct {
	// Bin is the keepalived binary.
	Bin string
	// Conntrackd is the conntrackd binary.
	Conntrackd string
}

func (keepalivedStack) Name() string { return "keepalived+conntrackd" }

// PerBeat is 2: one advert per VRRP instance (LAN and WAN) and interval.
func (keepalivedStack) PerBeat() int { return 2 }

// DeadInterval is VRRPv3's Master_Down_Interval for the backup at priority
// 253: 3 x advert_int + (256-253) x advert_int / 256 (the multiple is
// fixed at 3 by the RFC).
func (keepalivedStack) DeadInterval(t timers) time.Duration {
	iv := time.Duration(t.IntervalMS) * time.Millisecond
	return 3*iv + (256-253)*iv/256
}

const keepalivedConf = `# bench/takeover: keepalived reference for {{.Unit}}
global_defs {
    router_id tdmb-{{.Unit}}
    vrrp_version 3
    script_user root
    enable_script_security
}

vrrp_sync_group tdmb {
    group {
        lan
        wan
    }
    notify_master "{{.Notify}} primary"
    notify_backup "{{.Notify}} backup"
    notify_fault "{{.Notify}} fault"
}
{{range .Instances}}
vrrp_instance {{.Name}} {
    state {{$.State}}
    interface x2
    track_interface {
        x0
        x1
    }
    virtual_router_id {{.VRID}}
    priority {{$.Priority}}
    advert_int {{$.Advert}}
    unicast_src_ip {{$.Self}}
    unicast_peer {
        {{$.Peer}}
    }
    virtual_ipaddress {
        {{.VIP}} dev {{.Dev}}
    }
}
{{end}}`

var confTmpl = template.Must(template.New("keepalived").Parse(keepalivedConf))

type kaInstance struct {
	Name, VIP, Dev string
	VRID           int
}

type kaUnit struct {
	Unit, State, Self, Peer, Advert, Notify string
	Priority                                int
	Instances                               []kaInstance
}

// ctdPort is conntrackd's UDP port on the HA link, used by nothing else
// in the lab (tandem's are 8734 and 8735).
const ctdPort = 3780

const conntrackdConf = `# bench/takeover: conntrackd of {{.Unit}}, FTFW over the HA link
Sync {
	Mode FTFW {
	}
	UDP {
		IPv4_address {{.Self}}
		IPv4_Destination_Address {{.Peer}}
		Port {{.Port}}
		Interface x2
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
}

General {
	HashSize 32768
	HashLimit 131072
	# No log file: it runs in console mode, its output goes to
	# conntrackd-{{.Unit}}.log.
	LogFile off
	LockFile {{.Lock}}
	UNIX {
		Path {{.Socket}}
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Protocol Accept {
			TCP
			UDP
		}
		Address Ignore {
			IPv4_address 127.0.0.1
{{- range .Ignore}}
			IPv4_address {{.}}
{{- end}}
		}
	}
}
`

// notifyScript is primary-backup.sh for one unit, with its conntrackd
// configuration; errors go to a log of its own instead of syslog. Unlike
// primary-backup.sh, a backup does not start a missing conntrackd:
// conntrackd -d would leave the unit's process group, and survive its
// kill.
const notifyScript = `#!/bin/sh
# bench/takeover: keepalived's notify script for {{.Unit}}, the sequence of
# conntrackd's primary-backup.sh with this unit's configuration.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
log() { echo "$(date +%T.%N) $1" >> {{.NotifyLog}}; }
ctd() { {{.Bin}} -C {{.Conf}} "$@" || log "$state: conntrackd $* failed"; }
state=$1
log "$state: start"
case "$state" in
primary)
	ctd -c # commit the external cache into the kernel table
	ctd -f # flush the internal and the external caches
	ctd -R # resynchronize the internal cache with the kernel table
	ctd -B # send a bulk update to the backup
	;;
backup)
	if ! {{.Bin}} -C {{.Conf}} -s >/dev/null; then
		log "backup: conntrackd is not running"
		exit 1
	fi
	ctd -t # shorten the kernel's timers to purge zombie entries
	ctd -n # request a resynchronization from the primary
	;;
fault)
	ctd -t
	;;
*)
	log "unknown state transition"
	exit 1
	;;
esac
log "$state: done"
`

var (
	ctdTmpl    = template.Must(template.New("conntrackd").Parse(conntrackdConf))
	notifyTmpl = template.Must(template.New("notify").Parse(notifyScript))
)

// ctdUnit fills conntrackdConf and notifyScript for one unit.
type ctdUnit struct {
	Unit, Bin, Conf, Self, Peer, NotifyLog, Lock, Socket string
	Port                                                 int
	Ignore                                               []string
}

// unitAddrs are the addresses tandem gives each unit, by port.
var unitAddrs = map[string][]string{
	"fw1": {"192.0.2.2/24", "198.51.100.2/24", "169.254.10.1/29"},
	"fw2": {"192.0.2.3/24", "198.51.100.3/24", "169.254.10.2/29"},
}

// advertInt renders an interval as keepalived's advert_int in seconds
// (VRRPv3 carries centiseconds).
func advertInt(ms int) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
}

// Prepare replaces tandemd with keepalived in both units (see the type's
// documentation) and returns the master, fw1.
func (k keepalivedStack) Prepare(ctx context.Context, l *topo.Lab, t timers) (string, error) {
	if t.IntervalMS%10 != 0 {
		return "", fmt.Errorf("%w: keepalived: VRRPv3 advertises in centiseconds; %d ms is not a multiple of 10", errRefused, t.IntervalMS)
	}
	for _, u := range l.Units {
		if u.PID > 0 {
			_ = syscall.Kill(-u.PID, syscall.SIGKILL)
			u.PID = 0
		}
	}
	for _, u := range l.Units {
		if err := waitFor(ctx, 5*time.Second, 10*time.Millisecond, func() bool { return len(netnsPIDs(u.Namespace)) == 0 }); err != nil {
			return "", fmt.Errorf("keepalived: tandemd of %s still running: %v", u.Name, netnsPIDs(u.Namespace))
		}
		for i := range topo.Segments {
			if err := run("ip", "-n", u.Namespace, "addr", "flush", "dev", fmt.Sprintf("x%d", i)); err != nil {
				return "", err
			}
		}
		// tandem's table is there once its driver applied; ignore "no such table".
		_ = run("ip", "netns", "exec", u.Namespace, "nft", "delete", "table", "inet", "tandem")
		for i, a := range unitAddrs[u.Name] {
			dev := fmt.Sprintf("x%d", i)
			if err := run("ip", "-n", u.Namespace, "addr", "add", a, "dev", dev); err != nil {
				return "", err
			}
			if err := run("ip", "-n", u.Namespace, "link", "set", dev, "up"); err != nil {
				return "", err
			}
		}
	}
	for _, u := range l.Units {
		if err := k.start(ctx, l, u, t); err != nil {
			return "", err
		}
		if u.Name == "fw1" {
			if err := waitFor(ctx, 5*time.Second, 10*time.Millisecond, func() bool {
				return hasAddr(u.Namespace, "x0", lanVIP) && hasAddr(u.Namespace, "x1", wanVIP)
			}); err != nil {
				return "", fmt.Errorf("keepalived: fw1 did not become master: %w; see %s", err, kaLog(l, u))
			}
		}
	}
	// fw2 starts as BACKUP; wait until both its instances say so and it
	// has heard the master for a dead interval.
	fw2, _ := l.Unit("fw2")
	if err := waitFor(ctx, 5*time.Second, 10*time.Millisecond, func() bool {
		b, _ := os.ReadFile(kaLog(l, fw2))
		return strings.Count(string(b), "Entering BACKUP STATE") >= 2
	}); err != nil {
		return "", fmt.Errorf("keepalived: fw2 did not enter BACKUP: %w; see %s", err, kaLog(l, fw2))
	}
	// Both notify scripts have run their conntrackd sequence.
	for unit, state := range map[string]string{"fw1": "primary", "fw2": "backup"} {
		log := notifyLog(l, unit)
		if err := waitFor(ctx, 5*time.Second, 10*time.Millisecond, func() bool {
			b, _ := os.ReadFile(log)
			return strings.Contains(string(b), state+": done")
		}); err != nil {
			return "", fmt.Errorf("keepalived: the %s notify script of %s did not finish: %w; see %s", state, unit, err, log)
		}
	}
	sleep(ctx, t.dead()+200*time.Millisecond)
	if hasAddr(fw2.Namespace, "x0", lanVIP) || !hasAddr(l.Namespace("fw1"), "x0", lanVIP) {
		return "", fmt.Errorf("keepalived: fw1 is not the only master; see %s", kaLog(l, fw2))
	}
	return "fw1", nil
}

func kaLog(l *topo.Lab, u *topo.Unit) string {
	return filepath.Join(l.Dir, "keepalived-"+u.Name+".log")
}

// notifyLog is the log of a unit's notify script.
func notifyLog(l *topo.Lab, unit string) string {
	return filepath.Join(l.Dir, "conntrackd-notify-"+unit+".log")
}

// ctdConf is the path of a unit's conntrackd configuration.
func ctdConf(l *topo.Lab, unit string) string {
	return filepath.Join(l.Dir, "conntrackd-"+unit+".conf")
}

// StandbyEntries lists conntrackd's external cache on the standby: the
// master's entries, which notify_master commits to the kernel on takeover.
func (k keepalivedStack) StandbyEntries(l *topo.Lab, standby string) ([]byte, error) {
	return output("ip", "netns", "exec", l.Namespace(standby), k.Conntrackd, "-C", ctdConf(l, standby), "-e")
}

// start writes the unit's conntrackd and keepalived configurations and
// the notify script, and starts conntrackd and then keepalived in the
// unit's namespace, in one process group of their own (see the type's
// documentation).
func (k keepalivedStack) start(ctx context.Context, l *topo.Lab, u *topo.Unit, t timers) error {
	cfg := kaUnit{Unit: u.Name, State: "MASTER", Priority: 254, Self: "169.254.10.1", Peer: "169.254.10.2", Advert: advertInt(t.IntervalMS),
		Notify:    filepath.Join(l.Dir, "conntrackd-"+u.Name+".sh"),
		Instances: []kaInstance{{"lan", lanVIP, "x0", 51}, {"wan", wanVIP, "x1", 52}}}
	if u.Name == "fw2" {
		cfg.State, cfg.Priority, cfg.Self, cfg.Peer = "BACKUP", 253, "169.254.10.2", "169.254.10.1"
	}
	ctd := ctdUnit{Unit: u.Name, Bin: k.Conntrackd, Conf: ctdConf(l, u.Name), Self: cfg.Self, Peer: cfg.Peer, Port: ctdPort,
		NotifyLog: notifyLog(l, u.Name),
		Lock:      filepath.Join(l.Dir, "conntrackd-"+u.Name+".lock"),
		Socket:    filepath.Join(l.Dir, "conntrackd-"+u.Name+".ctl"),
		Ignore:    []string{strings.Split(lanVIP, "/")[0], strings.Split(wanVIP, "/")[0]}}
	for _, a := range unitAddrs[u.Name] {
		ctd.Ignore = append(ctd.Ignore, strings.Split(a, "/")[0])
	}
	conf := filepath.Join(l.Dir, "keepalived-"+u.Name+".conf")
	for _, f := range []struct {
		path string
		tmpl *template.Template
		data any
		mode os.FileMode
	}{{conf, confTmpl, cfg, 0o600}, {ctd.Conf, ctdTmpl, ctd, 0o600}, {cfg.Notify, notifyTmpl, ctd, 0o700}} {
		var b strings.Builder
		if err := f.tmpl.Execute(&b, f.data); err != nil {
			return err
		}
		if err := os.WriteFile(f.path, []byte(b.String()), f.mode); err != nil {
			return err
		}
	}
	// conntrackd leads the unit's process group: keepalived's notify
	// scripts need its control socket from keepalived's first transition.
	ctdLog := filepath.Join(l.Dir, "conntrackd-"+u.Name+".log")
	pgid, exited, err := k.spawn(ctx, u, 0, ctdLog, k.Conntrackd, "-C", ctd.Conf)
	if err != nil {
		return fmt.Errorf("conntrackd in %s: %w", u.Namespace, err)
	}
	u.PID = pgid
	gone := func() bool {
		select {
		case <-exited:
			return true
		default:
			return false
		}
	}
	if err := waitFor(ctx, 5*time.Second, 10*time.Millisecond, func() bool {
		_, err := os.Stat(ctd.Socket)
		return err == nil || gone()
	}); err != nil {
		return fmt.Errorf("conntrackd of %s did not open %s: %w; see %s", u.Name, ctd.Socket, err, ctdLog)
	}
	if gone() {
		return fmt.Errorf("conntrackd of %s exited at start; see %s", u.Name, ctdLog)
	}
	if _, _, err := k.spawn(ctx, u, pgid, kaLog(l, u), k.Bin,
		"--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file", conf,
		"--pid", filepath.Join(l.Dir, "keepalived-"+u.Name+".pid"),
		"--vrrp_pid", filepath.Join(l.Dir, "keepalived-vrrp-"+u.Name+".pid")); err != nil {
		return fmt.Errorf("keepalived in %s: %w", u.Namespace, err)
	}
	return nil
}

// spawn starts bin with args in the unit's namespace, in process group
// pgid (0: a new group it leads), with its output appended to logPath, and
// returns its PID and a channel closed once it exited. Ending ctx kills
// the whole group.
func (k keepalivedStack) spawn(ctx context.Context, u *topo.Unit, pgid int, logPath, bin string, args ...string) (int, <-chan struct{}, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, nil, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", u.Namespace, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
	cmd.Cancel = func() error {
		g := pgid
		if g == 0 {
			g = cmd.Process.Pid
		}
		return syscall.Kill(-g, syscall.SIGKILL)
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	exited := make(chan struct{})
	go func() { // reap it once topo kills it
		_ = cmd.Wait()
		close(exited)
	}()
	return cmd.Process.Pid, exited, nil
}
