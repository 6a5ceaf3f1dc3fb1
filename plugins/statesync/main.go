// Command tandem-plugin-statesync is tandem's stateful synchronization plugin
// (SYNC-1..11): on the active unit it streams the kernel's connection
// table (and the other channels) to the standby over the HA data link;
// on the standby it installs what it receives, continuously, so that
// sessions carry on after a takeover. The core drives it with
// StatesyncSpec intents and asks it, before each takeover, to confirm
// that everything received is installed (PrepareActive).
package main

import "github.com/tandem-ha/tandem/plugins/sdk"

func main() { sdk.Serve(newPlugin()) }
