package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// soak runs one tandem pair idle for d with timers t while every CPU is
// kept busy, and reports each role change, peer loss and path loss after
// the pair has converged: the false failovers the issue bounds at zero.
func soak(ctx context.Context, c config, t timers, d time.Duration, log io.Writer) error {
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	base, err := os.MkdirTemp("", "tdmb-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	tag := nsPrefix + strconv.FormatInt(int64(os.Getpid())%1296+1296, 36)[1:]
	defer sweep(tag)
	opts := topo.Options{Name: tag + "s", Dir: filepath.Join(base, "lab"),
		Tandemd: abs(filepath.Join(c.bin, "tandemd")), PluginDir: abs(filepath.Join(c.bin, "plugins"))}
	l, err := topo.Up(opts)
	if err != nil {
		return fmt.Errorf("lab up: %w", err)
	}
	defer l.Down()
	if _, err := (tandemStack{}).Prepare(ctx, l, t); err != nil {
		return err
	}
	clients := map[string]*local.Client{}
	after := map[string]uint64{}
	for _, u := range l.Units {
		clients[u.Name] = local.NewClient(u.Socket)
		ev, err := clients[u.Name].Events(ctx, 0, 100000)
		if err != nil {
			return err
		}
		if len(ev) > 0 {
			after[u.Name] = ev[len(ev)-1].Seq
		}
	}
	// Busy cores: one spinning goroutine per CPU for the whole soak.
	var stop atomic.Bool
	for i := 0; i < runtime.NumCPU(); i++ {
		go func() {
			for x := uint64(1); !stop.Load(); x = x*6364136223846793005 + 1 {
			}
		}()
	}
	defer stop.Store(true)
	fmt.Fprintf(log, "soak: %s idle with %s heartbeats, %d CPUs busy\n", d, t, runtime.NumCPU())
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		sleep(ctx, 10*time.Second)
		fmt.Fprintf(log, "soak: %s left\n", time.Until(deadline).Round(time.Second))
	}
	stop.Store(true)
	total := 0
	for name, cl := range clients {
		ev, err := cl.Events(ctx, after[name], 100000)
		if err != nil {
			return err
		}
		for _, e := range ev {
			switch e.Type {
			case "role-change", "peer-lost", "path-down", "dual-active":
				total++
				fmt.Fprintf(log, "soak: %s %s %s: %s\n", name, e.Time.Format(time.TimeOnly), e.Type, e.Message)
			}
		}
	}
	fmt.Fprintf(log, "soak result: %d role changes, peer losses or path losses in %s with %s heartbeats on %d busy CPUs\n",
		total, d, t, runtime.NumCPU())
	if total > 0 {
		return fmt.Errorf("%d false failure detections", total)
	}
	return nil
}
