package main

import (
	"flag"

	"github.com/tandem-ha/tandem/core/daemon"
	"github.com/tandem-ha/tandem/northbound/gnmi"
)

func init() {
	addr := flag.String("gnmi", gnmi.DefaultAddr, "listen address of the gNMI server (TLS); empty turns gNMI off")
	target := flag.String("gnmi-target", "", "extra gNMI target name this unit answers to besides its serial number")
	register(func() daemon.Northbound {
		if *addr == "" {
			return nil
		}
		return gnmi.New(gnmi.Options{Addr: *addr, Target: *target})
	})
}
