package main

import "github.com/tandem-ha/tandem/core/daemon"

// northbounds are the management API servers tandemd runs. Each API's
// file in this directory declares its flags in init and registers a
// constructor here; a constructor returns nil when its API is turned off
// (an empty listen address).
var northbounds []func() daemon.Northbound

// register adds an API server constructor.
func register(newServer func() daemon.Northbound) { northbounds = append(northbounds, newServer) }

// enabledNorthbounds builds the servers whose APIs are on.
func enabledNorthbounds() []daemon.Northbound {
	var out []daemon.Northbound
	for _, newServer := range northbounds {
		if nb := newServer(); nb != nil {
			out = append(out, nb)
		}
	}
	return out
}
