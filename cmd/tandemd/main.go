// Command tandemd is the tandem daemon: it holds the unit's configuration
// datastore, drives the plugins toward the running configuration, and
// serves the management APIs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tandem-ha/tandem/core/daemon"
)

func main() {
	var cfg daemon.Config
	flag.StringVar(&cfg.DataDir, "data", "/var/lib/tandem", "directory of the datastore and the event log")
	flag.StringVar(&cfg.PluginDir, "plugins", "/usr/lib/tandem/plugins", "plugin directory, scanned at start")
	flag.StringVar(&cfg.Socket, "socket", "/run/tandem/tandem.sock", "unix socket of the local API (tandemctl)")
	flag.StringVar(&cfg.InitialConfig, "config", "", "RFC 7951 JSON file used as the first configuration of a new datastore")
	flag.StringVar(&cfg.SerialNumber, "serial", "", "this unit's serial number (default: derived from /etc/machine-id)")
	flag.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate of the REST and gNMI servers (default: self-signed, generated in the data directory)")
	flag.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key for -tls-cert")
	level := flag.String("log-level", "info", "debug, info, warn or error")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println("tandemd", daemon.Version)
		return
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(os.Stderr, "tandemd: -log-level:", err)
		os.Exit(2)
	}
	cfg.Northbounds = enabledNorthbounds()
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	if exe, err := os.Executable(); err == nil {
		cfg.Executable = exe
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := daemon.Run(ctx, cfg)
	stop()
	if errors.Is(err, daemon.ErrRestart) {
		// An upgrade installed new firmware in place of this executable:
		// become it, with the same pid, arguments and open log.
		cfg.Logger.Info("tandemd restarting into new firmware", "executable", cfg.Executable)
		err = syscall.Exec(cfg.Executable, os.Args, os.Environ())
	}
	if err != nil {
		cfg.Logger.Error("tandemd stopped", "err", err)
		os.Exit(1)
	}
}
