// Package model is tandem's view of its YANG data: the generated schema,
// the RFC 7951 JSON encoding of configuration, paths, diffs and the
// embedded default configuration. Every other package goes through it
// instead of calling ygot directly.
package model

import (
	"fmt"
	"strings"
	"sync"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ytypes"

	"github.com/tandem-ha/tandem/gen/tandem"
)

var (
	schemaOnce sync.Once
	schema     *ytypes.Schema
	writeOnly  map[string]bool
)

// Schema returns the generated schema of the whole device tree.
func Schema() *ytypes.Schema {
	schemaOnce.Do(func() {
		s, err := tandem.Schema()
		if err != nil {
			panic(fmt.Sprintf("model: generated schema does not load: %v", err))
		}
		schema = s
		writeOnly = map[string]bool{}
		collectWriteOnly(s.RootSchema(), "", writeOnly)
	})
	return schema
}

// Root returns the schema entry of the device root.
func Root() *yang.Entry { return Schema().RootSchema() }

// collectWriteOnly records the schema paths (without keys) of every leaf
// carrying the tandem-types:write-only extension.
func collectWriteOnly(e *yang.Entry, prefix string, out map[string]bool) {
	for name, child := range e.Dir {
		p := prefix + "/" + name
		for _, ext := range child.Exts {
			if strings.HasSuffix(ext.Keyword, ":write-only") {
				out[p] = true
			}
		}
		collectWriteOnly(child, p, out)
	}
}

// IsWriteOnly reports whether the leaf at the given schema path (keys
// stripped, such as /ha/config/pre-shared-key) is a secret that reads
// never return.
func IsWriteOnly(schemaPath string) bool {
	Schema()
	return writeOnly[schemaPath]
}

// WriteOnlyPaths lists the schema paths of all write-only leaves.
func WriteOnlyPaths() []string {
	Schema()
	out := make([]string, 0, len(writeOnly))
	for p := range writeOnly {
		out = append(out, p)
	}
	return out
}
