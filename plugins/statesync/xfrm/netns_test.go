package xfrm

import (
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
)

// nsPrefix starts the names of the namespaces this package's tests create.
const nsPrefix = "xfrm"

// needRoot skips tests that need namespaces, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	netnstest.NeedRoot(t, "creates network namespaces and writes kernel xfrm tables", "ip")
}
