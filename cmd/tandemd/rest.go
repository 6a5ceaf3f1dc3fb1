package main

import (
	"flag"

	"github.com/tandem-ha/tandem/core/daemon"
	"github.com/tandem-ha/tandem/northbound/rest"
)

func init() {
	addr := flag.String("rest", ":443", "listen address of the REST API (HTTPS); empty turns it off")
	maxBody := flag.Int64("rest-max-body", 4<<20, "largest REST request body accepted, in bytes")
	register(func() daemon.Northbound {
		if *addr == "" {
			return nil
		}
		return &rest.Northbound{Addr: *addr, Options: rest.Options{MaxBody: *maxBody}}
	})
}
