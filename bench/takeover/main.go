// Command takeover measures how long traffic through the lab pair stops
// when the active unit dies (kill -9 of its HA daemon and every port
// down, as a power loss), for tandem and, as the reference, for keepalived
// (VRRPv3) with conntrackd (connection tracking sync) in the same lab,
// with the same timers, interleaved in one run.
//
//	go run ./bench/takeover -runs 20 -timers 200x3,100x3,20x3 -ref keepalived
//
// Each run builds a fresh lab (platforms/lab/topo, namespaces tdmb*),
// prepares the stack, sends one UDP request per millisecond from the
// client to an echo server on the server host through the pair, kills
// the active unit with topo's Kill, and records the silence: the longest
// gap between two consecutive echoes received by the client. It also
// records the time from the kill to the first echo of a request sent
// after it. Alongside, live TCP sessions (tcp.go) cross the pair from
// well before the kill, once the standby holds their connection tracking
// entries; per run it records how many came through and the longest
// silence among those that did. The lab is torn down after every run, also
// on failure and on interrupt. The table goes to stdout and to -out.
//
// It needs root, the tandemd and lab plugin binaries (make build),
// conntrack(8) and, for the reference, keepalived and conntrackd (make
// bench-takeover installs them).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// The lab's virtual addresses, as the stacks configure them.
const (
	lanVIP = "192.0.2.1/24"
	wanVIP = "198.51.100.1/24"
)

// nsPrefix starts every namespace this program creates.
const nsPrefix = "tdmb"

// timers are one heartbeat setting: an interval and the number of missed
// intervals after which the peer is dead.
type timers struct {
	IntervalMS int
	Multiple   int
}

func (t timers) String() string { return fmt.Sprintf("%dx%d", t.IntervalMS, t.Multiple) }

// dead is the nominal failure detection time, interval x multiple.
func (t timers) dead() time.Duration {
	return time.Duration(t.IntervalMS*t.Multiple) * time.Millisecond
}

// parseTimers reads a comma-separated list such as 200x3,100x3,20x3.
func parseTimers(s string) ([]timers, error) {
	var out []timers
	for _, f := range strings.Split(s, ",") {
		iv, m, ok := strings.Cut(strings.TrimSpace(f), "x")
		a, err1 := strconv.Atoi(iv)
		b, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || a <= 0 || b <= 0 {
			return nil, fmt.Errorf("timers %q: write INTERVALxMULTIPLE in milliseconds, such as 200x3", f)
		}
		out = append(out, timers{a, b})
	}
	return out, nil
}

// stack is one HA implementation under test.
type stack interface {
	// Name is tandem or keepalived.
	Name() string
	// Prepare turns a freshly built lab into a converged pair running
	// with timers t and returns the active unit. An error wrapping
	// errRefused means the stack does not accept t.
	Prepare(ctx context.Context, l *topo.Lab, t timers) (string, error)
	// PerBeat is the number of packets the active sends on the HA link per
	// heartbeat interval.
	PerBeat() int
	// DeadInterval is how long after the active's last heartbeat the
	// standby declares it dead with timers t.
	DeadInterval(t timers) time.Duration
	// StandbyEntries lists the connection tracking entries the standby
	// unit holds ready to take over, one per line with the original
	// direction first (conntrack -L's and conntrackd -e's format).
	StandbyEntries(l *topo.Lab, standby string) ([]byte, error)
}

// config is the command line.
type config struct {
	runs       int
	timers     []timers
	ref        string
	bin        string
	out        string
	keepLogs   string
	keepalive  string
	conntrackd string
}

func main() {
	var c config
	var ts string
	flag.IntVar(&c.runs, "runs", 20, "runs per stack and timer setting")
	flag.StringVar(&ts, "timers", "200x3,100x3,20x3", "heartbeat settings, INTERVALxMULTIPLE in ms, comma-separated")
	flag.StringVar(&c.ref, "ref", "keepalived", "reference stack: keepalived, or none")
	flag.StringVar(&c.bin, "bin", "bin", "directory with tandemd and plugins/tandem-platform-lab (make build)")
	flag.StringVar(&c.out, "out", "bench/takeover/last.txt", "file the report is written to (also printed)")
	flag.StringVar(&c.keepLogs, "logs", "", "directory to copy the lab logs of failed runs, and of runs that lost TCP sessions, to (default: none)")
	flag.StringVar(&c.keepalive, "keepalived", "keepalived", "keepalived binary")
	flag.StringVar(&c.conntrackd, "conntrackd", "conntrackd", "conntrackd binary, run with keepalived in the reference")
	soakFor := flag.Duration("soak", 0, "instead of measuring takeovers, run one tandem pair idle this long with the first -timers setting and every CPU busy, and count false failure detections")
	flag.Parse()
	var err error
	if c.timers, err = parseTimers(ts); err != nil {
		fatal(err)
	}
	if c.runs < 1 {
		fatal(errors.New("-runs must be at least 1"))
	}
	if os.Geteuid() != 0 {
		fatal(errors.New("needs root: it builds network namespaces"))
	}
	if *soakFor > 0 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := soak(ctx, c, c.timers[0], *soakFor, os.Stderr); err != nil {
			fatal(err)
		}
		return
	}
	if _, err := exec.LookPath("conntrack"); err != nil {
		fatal(fmt.Errorf("conntrack not found (apt-get install -y conntrack): %w", err))
	}
	stacks := []stack{tandemStack{}}
	switch c.ref {
	case "keepalived":
		bin, err := exec.LookPath(c.keepalive)
		if err != nil {
			fatal(fmt.Errorf("keepalived not found (apt-get install -y keepalived, or -ref none): %w", err))
		}
		ctd, err := exec.LookPath(c.conntrackd)
		if err != nil {
			fatal(fmt.Errorf("conntrackd not found (apt-get install -y conntrackd, or -ref none): %w", err))
		}
		stacks = append(stacks, keepalivedStack{Bin: bin, Conntrackd: ctd})
	case "none", "":
	default:
		fatal(fmt.Errorf("-ref %q: keepalived or none", c.ref))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := benchmark(ctx, c, stacks, os.Stderr)
	var buf bytes.Buffer
	rep.write(&buf)
	os.Stdout.Write(buf.Bytes())
	if werr := os.WriteFile(c.out, buf.Bytes(), 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "takeover:", werr)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "takeover:", err)
	os.Exit(1)
}

// benchmark runs every stack at every timer setting c.runs times,
// interleaving the stacks run by run.
func benchmark(ctx context.Context, c config, stacks []stack, log io.Writer) (*report, error) {
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	opts := topo.Options{Tandemd: abs(filepath.Join(c.bin, "tandemd")), PluginDir: abs(filepath.Join(c.bin, "plugins"))}
	base, err := os.MkdirTemp("", "tdmb-takeover-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(base)
	// A tag of this process in every namespace name, so that the final
	// sweep only ever removes namespaces this process made.
	tag := nsPrefix + strconv.FormatInt(int64(os.Getpid())%1296+1296, 36)[1:]
	defer sweep(tag)
	host, _ := os.Hostname()
	rep := &report{Started: time.Now(), Host: host, CPUs: runtime.NumCPU(), Runs: c.runs}
	if len(stacks) > 1 {
		rep.Ref = stacks[1].Name()
	}
	seq := 0
	for _, t := range c.timers {
		skip := map[string]string{}
		for _, s := range stacks {
			rep.add(s.Name(), t)
		}
		for i := 0; i < c.runs; i++ {
			for _, s := range stacks {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				res := rep.result(s.Name(), t)
				if why, ok := skip[s.Name()]; ok {
					res.Skipped = why
					continue
				}
				seq++
				o := opts
				o.Name = tag + strconv.FormatInt(int64(seq), 36)
				o.Dir = filepath.Join(base, o.Name)
				r, err := oneRun(ctx, s, t, o, c.keepLogs)
				switch {
				case errors.Is(err, errRefused):
					skip[s.Name()] = err.Error()
					res.Skipped = err.Error()
					fmt.Fprintf(log, "%-5s %-21s skipped: %v\n", t, s.Name(), err)
					continue
				case err != nil:
					res.Errors = append(res.Errors, err.Error())
					fmt.Fprintf(log, "%-5s %-21s run %2d: error: %v\n", t, s.Name(), i+1, err)
					continue
				}
				res.Runs = append(res.Runs, r)
				lost := sessionsLost(r)
				if lost != "" {
					lost = " (lost: " + lost + ")"
				}
				fmt.Fprintf(log, "%-5s %-21s run %2d: silence %6.1f ms (%s after the dead interval), first echo after kill %6.1f ms, lost %4d, ports down %4.1f ms after SIGKILL, heartbeat every %5.1f ms, TCP silence %s, TCP sessions survived %d/%d%s\n",
					t, s.Name(), i+1, ms(r.Silence), afterDead(r), ms(r.FirstEcho), r.Lost, ms(r.PortsDown), ms(r.HeartbeatEvery), tcpSilence(r), r.TCPSurvived, r.TCPSessions, lost)
			}
		}
	}
	rep.Took = time.Since(rep.Started)
	return rep, nil
}

// oneRun builds a lab, prepares stack s with timers t, measures one kill
// of the active, and tears the lab down whatever happens.
func oneRun(ctx context.Context, s stack, t timers, opts topo.Options, keepLogs string) (r outcome, err error) {
	l, err := topo.Up(opts)
	if err != nil {
		return r, fmt.Errorf("lab up: %w", err)
	}
	defer func() {
		lost := err == nil && r.TCPSurvived < r.TCPSessions
		if (err != nil && !errors.Is(err, errRefused) || lost) && keepLogs != "" {
			dst := filepath.Join(keepLogs, opts.Name)
			if os.MkdirAll(dst, 0o755) == nil {
				for _, pat := range []string{"*.log", "*.conf"} {
					m, _ := filepath.Glob(filepath.Join(opts.Dir, pat))
					for _, f := range m {
						if b, rerr := os.ReadFile(f); rerr == nil {
							_ = os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644)
						}
					}
				}
				if lost {
					r.Logs = dst
				} else {
					err = fmt.Errorf("%w (logs in %s)", err, dst)
				}
			}
		}
		if derr := l.Down(); derr != nil && err == nil {
			err = fmt.Errorf("lab down: %w", derr)
		}
	}()
	active, err := s.Prepare(ctx, l, t)
	if err != nil {
		return r, err
	}
	standby := "fw2"
	if active == "fw2" {
		standby = "fw1"
	}
	echoSrv, err := startEcho(l.Namespace("server"))
	if err != nil {
		return r, err
	}
	defer echoSrv.Close()
	st, err := startStream(l.Namespace("client"))
	if err != nil {
		return r, err
	}
	defer st.Close()
	if err := waitFor(ctx, 5*time.Second, 10*time.Millisecond, func() bool {
		e, _ := st.snapshot()
		return steady(e, st.now(), 300*time.Millisecond)
	}); err != nil {
		return r, fmt.Errorf("no steady echo stream through %s before the kill: %w", active, err)
	}
	tcpSrv, err := startTCPEcho(l.Namespace("server"))
	if err != nil {
		return r, err
	}
	defer tcpSrv.Close()
	sessions, err := dialSessions(l.Namespace("client"), tcpSessions, st.start)
	if err != nil {
		return r, err
	}
	defer closeSessions(sessions)
	if err := waitFor(ctx, 5*time.Second, 10*time.Millisecond, func() bool {
		return sessionsSteady(sessions, st.now(), 300*time.Millisecond)
	}); err != nil {
		return r, fmt.Errorf("the %d TCP sessions do not echo steadily through %s before the kill: %w", len(sessions), active, err)
	}
	if err := waitSynced(ctx, s, l, standby, sessions); err != nil {
		return r, err
	}
	// Count the active's heartbeats (tandem: UDP; keepalived: VRRP,
	// IP protocol 112) arriving at the standby on the HA link for a while,
	// to show the interval each stack really runs at.
	hb, err := startHeartbeatCount(l.Namespace(standby))
	if err != nil {
		return r, err
	}
	beats, err := startHeartbeatTap(l.Namespace(standby), st.now)
	if err != nil {
		return r, err
	}
	defer beats.Close()
	sleep(ctx, max(time.Second, 8*time.Duration(t.IntervalMS)*time.Millisecond))
	// A random phase: the kill falls anywhere between two heartbeats, not
	// at the same point of the stack's timer cycle in every run.
	sleep(ctx, rand.N(time.Duration(t.IntervalMS)*time.Millisecond))
	every, err := hb.every(s.PerBeat())
	if err != nil {
		return r, err
	}
	// Exactly one unit holds the virtual addresses right before the kill.
	if !hasAddr(l.Namespace(active), "x0", lanVIP) || hasAddr(l.Namespace(standby), "x0", lanVIP) {
		return r, fmt.Errorf("before the kill %s does not hold %s alone", active, lanVIP)
	}
	tap, err := startTap(l.Namespace("server"), st.now)
	if err != nil {
		return r, err
	}
	defer tap.Close()
	oldMAC, newMAC := wanMAC(l.Namespace(active)), wanMAC(l.Namespace(standby))
	sleep(ctx, 50*time.Millisecond) // the tap has seen the old active forward
	killed := st.now()
	if err := l.Kill(active); err != nil {
		return r, fmt.Errorf("kill %s: %w", active, err)
	}
	down := st.now()
	limit := 5*time.Second + 3*t.dead()
	_ = waitFor(ctx, limit, 10*time.Millisecond, func() bool {
		e, _ := st.snapshot()
		now := st.now()
		return recoveredFor(e, down, now, 300*time.Millisecond) && sessionsSettled(sessions, down, now, 300*time.Millisecond)
	})
	end := st.now()
	echoes, sent := st.Close()
	var so []sessionOutcome
	for _, ss := range sessions {
		e, err := ss.Close()
		so = append(so, judgeSession(e, err, killed, down, end))
	}
	r = measure(echoes, sent, killed, down)
	r.PortsDown, r.HeartbeatEvery = down-killed, every
	r.addSessions(so)
	if oldMAC != newMAC {
		r.Wire, r.WireOK = tap.gap(oldMAC, newMAC)
	}
	// Only a standby that heard the active within one dead interval
	// before the kill measures its takeover from this heartbeat.
	if last, ok := beats.last(); ok && r.Recovered && killed-last < s.DeadInterval(t) {
		r.AfterDead, r.AfterDeadOK = r.SilenceEnd-(last+s.DeadInterval(t)), true
	}
	if !r.Recovered {
		return r, fmt.Errorf("no echo within %s after the kill of %s", limit, active)
	}
	// A power loss leaves nothing running: the kill ended every process
	// of the unit (for the reference, conntrackd with keepalived).
	if pids := netnsPIDs(l.Namespace(active)); len(pids) > 0 {
		return r, fmt.Errorf("processes %v still run in %s after its kill", pids, active)
	}
	if !hasAddr(l.Namespace(standby), "x0", lanVIP) || !hasAddr(l.Namespace(standby), "x1", wanVIP) {
		return r, fmt.Errorf("echoes came back but %s does not hold the virtual addresses", standby)
	}
	return r, nil
}

// waitSynced waits until the standby holds an ESTABLISHED connection
// tracking entry for every TCP session (stack s says where it keeps them),
// so that the kill tests the takeover of synced sessions, not the sync's
// latency.
func waitSynced(ctx context.Context, s stack, l *topo.Lab, standby string, sessions []*tcpSession) error {
	var ports []int
	for _, ss := range sessions {
		ports = append(ports, ss.port())
	}
	held, within := 0, 5*time.Second
	var lerr error
	err := waitFor(ctx, within, 50*time.Millisecond, func() bool {
		var out []byte
		out, lerr = s.StandbyEntries(l, standby)
		held = syncedSessions(out, tcpEchoPort, ports)
		return lerr == nil && held == len(ports)
	})
	if err == nil {
		return nil
	}
	if lerr != nil {
		return fmt.Errorf("%s: connection tracking entries of the standby %s: %w", s.Name(), standby, lerr)
	}
	return fmt.Errorf("%s: the standby %s holds ESTABLISHED entries for %d of the %d TCP sessions (client ports %v) after %s: %w",
		s.Name(), standby, held, len(ports), ports, within, err)
}

// run executes a command and returns its error with the command's output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// output runs a command and returns its standard output, or its error
// with what it wrote to standard error.
func output(name string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// hasAddr reports whether dev in namespace ns carries the IPv4 address
// cidr.
func hasAddr(ns, dev, cidr string) bool {
	out, err := exec.Command("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", dev).Output()
	return err == nil && bytes.Contains(out, []byte(" "+cidr+" "))
}

// heartbeatCount counts the heartbeats a unit receives on the HA link
// (x2) with an nftables counter in a table of its own.
type heartbeatCount struct {
	ns    string
	since time.Time
}

// countTable is the counter: tandem's heartbeats (UDP 8734; config sync
// is TCP, the state sync stream UDP 8735) and VRRP (IP protocol 112)
// arriving on x2. It accepts everything.
const countTable = `table inet tdmb_count {
	chain input {
		type filter hook input priority -10; policy accept;
		iifname "x2" udp dport 8734 counter
		iifname "x2" meta l4proto 112 counter
	}
}
`

func startHeartbeatCount(ns string) (*heartbeatCount, error) {
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(countTable)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("heartbeat counter in %s: %v: %s", ns, err, out)
	}
	return &heartbeatCount{ns: ns, since: time.Now()}, nil
}

var packetsRE = regexp.MustCompile(`packets (\d+)`)

// every returns the mean time between the heartbeats counted so far, of
// perBeat packets each.
func (h *heartbeatCount) every(perBeat int) (time.Duration, error) {
	out, err := exec.Command("ip", "netns", "exec", h.ns, "nft", "list", "table", "inet", "tdmb_count").Output()
	el := time.Since(h.since)
	if err != nil {
		return 0, fmt.Errorf("heartbeat counter in %s: %w", h.ns, err)
	}
	ms := packetsRE.FindAllSubmatch(out, -1)
	if ms == nil {
		return 0, fmt.Errorf("heartbeat counter in %s: no counter in %q", h.ns, out)
	}
	n := 0
	for _, m := range ms {
		c, _ := strconv.Atoi(string(m[1]))
		n += c
	}
	if n == 0 {
		return 0, fmt.Errorf("no heartbeat reached %s on x2 in %s", h.ns, el.Round(time.Millisecond))
	}
	return el * time.Duration(perBeat) / time.Duration(n), nil
}

// netnsPIDs lists the processes in namespace ns.
func netnsPIDs(ns string) []string {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	return strings.Fields(string(out))
}

// sweep removes every namespace whose name starts with tag (this process's
// own), killing what still runs in it: the last line of defence after an
// interrupt or a failed teardown.
func sweep(tag string) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], tag) {
			continue
		}
		for _, p := range netnsPIDs(f[0]) {
			if pid, err := strconv.Atoi(p); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = run("ip", "netns", "del", f[0])
	}
}

// waitFor polls cond every step until it holds, within or ctx ends.
func waitFor(ctx context.Context, within, step time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(step):
		}
	}
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
