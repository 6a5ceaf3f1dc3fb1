// Command tandem-platform-lab is the platform driver for the lab: logical
// ports map to (veth) netdevs in a network namespace. It is a tandem plugin:
// the core starts it from its plugin directory, it is not run by hand.
//
// By default it manages the network namespace it runs in. With
// TANDEM_LAB_NETNS=<name> it manages the named namespace (/run/netns/<name>)
// instead, through netlink handles opened in that namespace.
package main

import (
	"fmt"
	"os"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// version of the lab platform driver.
const version = "0.1.0"

// EnvNetns names the network namespace to manage.
const EnvNetns = "TANDEM_LAB_NETNS"

func main() {
	log := sdk.Logger()
	l, err := newLab(os.Getenv(EnvNetns), log)
	if err != nil {
		log.Error("cannot start lab platform driver", "error", err)
		fmt.Fprintln(os.Stderr, "tandem-platform-lab:", err)
		os.Exit(1)
	}
	defer l.Close()
	sdk.Serve(l)
}
