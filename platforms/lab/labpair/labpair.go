// Package labpair asks the units of a lab (platforms/lab/topo) about the
// pair they form, through each unit's local API. It sits above topo so
// that topo stays free of the daemon's packages.
package labpair

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

// Role asks a unit's tandemd for its HA role; "" when it does not answer
// within a second.
func Role(ctx context.Context, l *topo.Lab, unit string) string {
	u, err := l.Unit(unit)
	if err != nil {
		return ""
	}
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := local.NewClient(u.Socket).Status(c)
	if err != nil {
		return ""
	}
	return st.Role
}

// Elected waits until one unit of l is active and the other standby and
// names them.
func Elected(ctx context.Context, l *topo.Lab, within time.Duration) (active, standby string, err error) {
	deadline := time.Now().Add(within)
	for {
		switch r1, r2 := Role(ctx, l, "fw1"), Role(ctx, l, "fw2"); {
		case r1 == "active" && r2 == "standby":
			return "fw1", "fw2", nil
		case r2 == "active" && r1 == "standby":
			return "fw2", "fw1", nil
		case time.Now().After(deadline):
			return "", "", fmt.Errorf("no active and standby within %s (fw1 %q, fw2 %q)", within, r1, r2)
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
