// Command tandem-dhcpc is a DHCPv4 client for a WAN interface of an HA
// pair that publishes its lease to tandem's state sync plugin (SPEC
// SYNC-8): the active unit holds and renews the lease, the standby holds
// the replicated one, and a new active renews the same address with the
// same client id. See docs/statesync-publish.md.
//
//	tandem-dhcpc -interface wan0 -socket /var/lib/tandem/statesync.sock [-client-id 01:02:...]
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/publish/dhcpclient"
)

func main() {
	iface := flag.String("interface", "", "the WAN interface (required)")
	socket := flag.String("socket", "", "the state sync plugin's publish socket; empty runs standalone")
	clientID := flag.String("client-id", "", "client identifier in hex (\"01:52:54:00:12:34:56\"); default 01 + the interface's MAC")
	install := flag.Bool("install", true, "configure the leased address and default route on the interface")
	timeout := flag.Duration("timeout", dhcpclient.DefaultTimeout, "how long to wait for each answer of the server")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log, *iface, *socket, *clientID, *install, *timeout); err != nil {
		log.Error("tandem-dhcpc", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, iface, socket, clientID string, install bool, timeout time.Duration) error {
	var id []byte
	if clientID != "" {
		var err error
		if id, err = hex.DecodeString(strings.ReplaceAll(clientID, ":", "")); err != nil {
			return fmt.Errorf("-client-id: %w", err)
		}
	}
	c, err := dhcpclient.New(dhcpclient.Config{Interface: iface, Socket: socket, ClientID: id, Install: install,
		Timeout: timeout, Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return c.Run(ctx)
}
