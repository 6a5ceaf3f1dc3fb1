// Command statesync measures what stateful sync costs (SYNC-4) in the
// lab: a client opens connections through the pair at a fixed rate and
// keeps them; the benchmark reports how long the standby took to hold
// them all, the sync plugin's CPU time on both units, and the record bytes
// the stream carried (its payload, before framing), with and without a throttle.
//
//	go run ./bench/statesync -bin bin -conns 6000 -rate 2000 -throttle 0,200
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/platforms/lab/labpair"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat CPU times.
const clockTicks = 100

type result struct {
	throttle       int
	conns          int
	open           time.Duration
	caughtUp       time.Duration
	bytes          uint64
	activeCPU      time.Duration
	standbyCPU     time.Duration
	idleActive     time.Duration // CPU per second with no traffic
	idleStandby    time.Duration
	standbyEntries int
}

func main() {
	bin := flag.String("bin", "bin", "directory with tandemd and plugins/")
	conns := flag.Int("conns", 6000, "connections to open (two file descriptors each in this process)")
	rate := flag.Int("rate", 2000, "connections opened per second")
	throttles := flag.String("throttle", "0,200", "comma-separated sync throttles in kbit/s to run (0: unlimited)")
	out := flag.String("out", "bench/statesync/last.txt", "report file")
	flag.Parse()
	if os.Geteuid() != 0 {
		fatal(errors.New("needs root: it builds network namespaces"))
	}
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		fatal(err)
	}
	var results []result
	for _, s := range strings.Split(*throttles, ",") {
		kbps, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fatal(fmt.Errorf("-throttle %q: %w", s, err))
		}
		r, err := oneRun(context.Background(), absBin, *conns, *rate, kbps)
		if err != nil {
			fatal(err)
		}
		results = append(results, r)
	}
	f, err := os.Create(*out)
	if err != nil {
		fatal(err)
	}
	defer f.Close()
	report(io.MultiWriter(os.Stdout, f), results, *rate)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "statesync bench:", err)
	os.Exit(1)
}

func oneRun(ctx context.Context, bin string, conns, rate, kbps int) (r result, err error) {
	dir, err := os.MkdirTemp("", "tdms")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	l, err := topo.Up(topo.Options{Name: "tdms", Dir: filepath.Join(dir, "lab"), Tandemd: filepath.Join(bin, "tandemd"), PluginDir: filepath.Join(bin, "plugins")})
	if err != nil {
		return r, err
	}
	defer func() {
		if derr := l.Down(); derr != nil && err == nil {
			err = derr
		}
	}()
	if _, _, err := labpair.Elected(ctx, l, 15*time.Second); err != nil {
		return r, err
	}
	fw1, fw2 := local.NewClient(filepath.Join(dir, "lab", "fw1.sock")), local.NewClient(filepath.Join(dir, "lab", "fw2.sock"))
	if kbps > 0 {
		if err := fw1.Set(ctx, "/statesync/config/throttle", json.RawMessage(strconv.Itoa(kbps))); err != nil {
			return r, err
		}
		if _, err := fw1.Commit(ctx, local.CommitRequest{Comment: "throttle"}); err != nil {
			return r, err
		}
	}
	if err := waitFor(15*time.Second, func() bool { return bulkComplete(ctx, fw2) }); err != nil {
		return r, fmt.Errorf("standby bulk sync: %w", err)
	}
	time.Sleep(time.Second) // let the throttle's revision settle on both units
	// The idle cost (periodic refresh scans of the channels), measured
	// first and subtracted from the cost of the connections.
	idleA0, err := pluginCPU(ctx, fw1)
	if err != nil {
		return r, err
	}
	idleS0, err := pluginCPU(ctx, fw2)
	if err != nil {
		return r, err
	}
	const idleFor = 5 * time.Second
	time.Sleep(idleFor)
	idleA1, _ := pluginCPU(ctx, fw1)
	idleS1, _ := pluginCPU(ctx, fw2)
	r.idleActive = (idleA1 - idleA0) * time.Second / idleFor
	r.idleStandby = (idleS1 - idleS0) * time.Second / idleFor
	activeCPU0, err := pluginCPU(ctx, fw1)
	if err != nil {
		return r, err
	}
	standbyCPU0, err := pluginCPU(ctx, fw2)
	if err != nil {
		return r, err
	}
	bytes0 := bytesSent(ctx, fw1)
	base := ctCount(l.Namespace("fw2"))

	var ln net.Listener
	if err := topo.InNetns(l.Namespace("server"), func() (err error) { ln, err = net.Listen("tcp", "198.51.100.10:5201"); return err }); err != nil {
		return r, err
	}
	accepted := make(chan []net.Conn, 1)
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				accepted <- held
				return
			}
			held = append(held, c)
		}
	}()
	defer func() {
		ln.Close()
		for _, c := range <-accepted {
			c.Close()
		}
	}()
	start := time.Now()
	every := time.Second / time.Duration(rate)
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if err := topo.InNetns(l.Namespace("client"), func() error {
		for i := 0; i < conns; i++ {
			c, err := net.DialTimeout("tcp", "198.51.100.10:5201", 5*time.Second)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			clients = append(clients, c)
			if d := time.Until(start.Add(time.Duration(i+1) * every)); d > 0 {
				time.Sleep(d)
			}
		}
		return nil
	}); err != nil {
		return r, err
	}
	r.open = time.Since(start)
	if err := waitFor(120*time.Second, func() bool { return ctCount(l.Namespace("fw2"))-base >= conns }); err != nil {
		return r, fmt.Errorf("the standby did not catch up: %d of %d: %w", ctCount(l.Namespace("fw2"))-base, conns, err)
	}
	r.caughtUp = time.Since(start) - r.open
	activeCPU1, _ := pluginCPU(ctx, fw1)
	standbyCPU1, _ := pluginCPU(ctx, fw2)
	r.throttle, r.conns = kbps, conns
	busy := r.open + r.caughtUp
	idle := func(perSecond time.Duration) time.Duration { return time.Duration(float64(perSecond) * busy.Seconds()) }
	r.activeCPU = max(0, activeCPU1-activeCPU0-idle(r.idleActive))
	r.standbyCPU = max(0, standbyCPU1-standbyCPU0-idle(r.idleStandby))
	r.bytes = bytesSent(ctx, fw1) - bytes0
	r.standbyEntries = ctCount(l.Namespace("fw2")) - base
	return r, nil
}

func waitFor(within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func bulkComplete(ctx context.Context, c *local.Client) bool {
	b, err := c.State(ctx, "/statesync/state/bulk-sync-complete")
	return err == nil && strings.Contains(string(b), "true")
}

// bytesSent is the connections channel's bytes on the wire.
func bytesSent(ctx context.Context, c *local.Client) uint64 {
	b, err := c.State(ctx, "/statesync/channels/channel[name=connections]/state/bytes-sent")
	if err != nil {
		return 0
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, string(b))
	n, _ := strconv.ParseUint(digits, 10, 64)
	return n
}

// pluginCPU is the user+system CPU time of the unit's sync plugin.
func pluginCPU(ctx context.Context, c *local.Client) (time.Duration, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return 0, err
	}
	for _, p := range st.Plugins {
		if p.Kind != "statesync" {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
		if err != nil {
			return 0, err
		}
		// Fields after the command name (which may hold spaces).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		utime, _ := strconv.ParseUint(f[11], 10, 64)
		stime, _ := strconv.ParseUint(f[12], 10, 64)
		return time.Duration(utime+stime) * time.Second / clockTicks, nil
	}
	return 0, errors.New("no statesync plugin running")
}

// ctCount is the size of a namespace's connection table.
func ctCount(ns string) int {
	out, err := exec.Command("ip", "netns", "exec", ns, "conntrack", "-C").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func report(w io.Writer, rs []result, rate int) {
	fmt.Fprintf(w, "stateful sync cost: connections opened at %d/s through the lab pair and kept;\n", rate)
	fmt.Fprintf(w, "plugin CPU net of its idle cost (periodic refresh scans), which is shown per second\n\n")
	fmt.Fprintln(w, "| throttle | connections | opened in | standby caught up after the last | sync record bytes per connection | sync plugin CPU, active | sync plugin CPU, standby | idle CPU per second, active / standby |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rs {
		th := "none"
		if r.throttle > 0 {
			th = fmt.Sprintf("%d kbit/s", r.throttle)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.0f B | %s (%.0f µs/conn) | %s (%.0f µs/conn) | %s / %s |\n", th, r.conns,
			r.open.Round(time.Millisecond), r.caughtUp.Round(time.Millisecond), float64(r.bytes)/float64(r.conns),
			r.activeCPU.Round(time.Millisecond), float64(r.activeCPU.Microseconds())/float64(r.conns),
			r.standbyCPU.Round(time.Millisecond), float64(r.standbyCPU.Microseconds())/float64(r.conns),
			r.idleActive.Round(time.Millisecond), r.idleStandby.Round(time.Millisecond))
	}
}
