package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tandem-ha/tandem/core/daemon"
	"github.com/tandem-ha/tandem/northbound/netconf"
)

// netconfAddr is the NETCONF over SSH listen address.
var netconfAddr = flag.String("netconf", ":830", "listen address of the NETCONF server (SSH subsystem netconf); empty turns it off")

// netconfHostKey names the SSH host key file in the data directory; it
// is generated at first start and kept.
const netconfHostKey = "ssh_host_ed25519_key"

func init() {
	register(func() daemon.Northbound {
		if *netconfAddr == "" {
			return nil
		}
		dataDir := "/var/lib/tandem"
		if f := flag.Lookup("data"); f != nil {
			dataDir = f.Value.String()
		}
		srv, err := netconf.New(netconf.Options{Addr: *netconfAddr, HostKeyFile: filepath.Join(dataDir, netconfHostKey)})
		if err != nil {
			fmt.Fprintln(os.Stderr, "tandemd:", err)
			os.Exit(1)
		}
		return srv
	})
}
