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

// keepalivedStack runs the reference: keepalived (VRRPv3) in the lab's
// firewall namespaces instead of tandemd. topo has no option to build the
// lab without tandemd, so Prepare turns a freshly built lab into a
// keepalived pair:
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
//  4. keepalived -P (VRRP only) started in fw1, then in fw2, each in a
//     session of its own, recorded as the unit's PID so that topo's Kill
//     and Down treat it exactly as they treat tandemd (SIGKILL to the
//     process group, then every port down).
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
type keepalivedStack struct {
	// Bin is the keepalived binary.
	Bin string
}

func (keepalivedStack) Name() string { return "keepalived" }

// PerBeat is 2: one advert per VRRP instance (LAN and WAN) and interval.
func (keepalivedStack) PerBeat() int { return 2 }

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
	Unit, State, Self, Peer, Advert string
	Priority                        int
	Instances                       []kaInstance
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
	sleep(ctx, t.dead()+200*time.Millisecond)
	if hasAddr(fw2.Namespace, "x0", lanVIP) || !hasAddr(l.Namespace("fw1"), "x0", lanVIP) {
		return "", fmt.Errorf("keepalived: fw1 is not the only master; see %s", kaLog(l, fw2))
	}
	return "fw1", nil
}

func kaLog(l *topo.Lab, u *topo.Unit) string {
	return filepath.Join(l.Dir, "keepalived-"+u.Name+".log")
}

// start writes the unit's keepalived configuration and starts keepalived
// in the unit's namespace, in its own session.
func (k keepalivedStack) start(ctx context.Context, l *topo.Lab, u *topo.Unit, t timers) error {
	cfg := kaUnit{Unit: u.Name, State: "MASTER", Priority: 254, Self: "169.254.10.1", Peer: "169.254.10.2", Advert: advertInt(t.IntervalMS),
		Instances: []kaInstance{{"lan", lanVIP, "x0", 51}, {"wan", wanVIP, "x1", 52}}}
	if u.Name == "fw2" {
		cfg.State, cfg.Priority, cfg.Self, cfg.Peer = "BACKUP", 253, "169.254.10.2", "169.254.10.1"
	}
	var b strings.Builder
	if err := confTmpl.Execute(&b, cfg); err != nil {
		return err
	}
	conf := filepath.Join(l.Dir, "keepalived-"+u.Name+".conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(kaLog(l, u), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", u.Namespace, k.Bin,
		"--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file", conf,
		"--pid", filepath.Join(l.Dir, "keepalived-"+u.Name+".pid"),
		"--vrrp_pid", filepath.Join(l.Dir, "keepalived-vrrp-"+u.Name+".pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("keepalived in %s: %w", u.Namespace, err)
	}
	u.PID = cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reap it once topo kills it
	return nil
}
