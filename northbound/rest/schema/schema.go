// Package schema is tandem's YANG as the REST API serves it: the module
// sources embedded from yang/ (package yang), parsed with goyang into the
// data nodes, the rpcs of tandem-operations and the module list of the
// YANG library (RFC 8525).
package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/openconfig/goyang/pkg/yang"

	sources "github.com/tandem-ha/tandem/yang"
)

// Module is one YANG module of the library.
type Module struct {
	// Name, Revision, Namespace and Prefix are the module's statements.
	Name      string
	Revision  string
	Namespace string
	Prefix    string
	// Implemented is true for modules that define data nodes or rpcs;
	// the others (types) are import-only.
	Implemented bool
	// Source is the module's YANG text.
	Source []byte
}

// Schema is the parsed model.
type Schema struct {
	// Modules lists every module, sorted by name.
	Modules []Module
	// Top holds the top-level data nodes by name, such as "ha".
	Top map[string]*yang.Entry
	// TopModule names the module of each top-level data node.
	TopModule map[string]string
	// RPCs holds the rpcs of tandem-operations by name.
	RPCs map[string]*yang.Entry
	// ContentID changes whenever the set of modules changes (RFC 8525).
	ContentID string
}

// OperationsModule is the module that declares the rpcs.
const OperationsModule = "tandem-operations"

var load = sync.OnceValues(parse)

// Load parses the embedded YANG once and returns the result.
func Load() (*Schema, error) { return load() }

// Must is Load for callers that cannot continue without the schema; the
// embedded sources are tested, so it panics only on a broken build.
func Must() *Schema {
	s, err := Load()
	if err != nil {
		panic(err)
	}
	return s
}

func parse() (*Schema, error) {
	names, err := fs.Glob(sources.FS, "*.yang")
	if err != nil {
		return nil, err
	}
	ietf, err := fs.Glob(sources.FS, "ietf/*.yang")
	if err != nil {
		return nil, err
	}
	names = append(names, ietf...)
	ms := yang.NewModules()
	src := map[string][]byte{}
	for _, n := range names {
		b, err := sources.FS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		if err := ms.Parse(string(b), n); err != nil {
			return nil, fmt.Errorf("yang %s: %w", n, err)
		}
		src[strings.TrimSuffix(path.Base(n), ".yang")] = b
	}
	if errs := ms.Process(); len(errs) > 0 {
		return nil, fmt.Errorf("yang: %v", errs)
	}
	s := &Schema{Top: map[string]*yang.Entry{}, TopModule: map[string]string{}, RPCs: map[string]*yang.Entry{}}
	h := sha256.New()
	for name, mod := range ms.Modules {
		if strings.Contains(name, "@") || src[name] == nil {
			continue
		}
		m := Module{Name: name, Namespace: mod.Namespace.Name, Prefix: mod.Prefix.Name, Source: src[name]}
		if len(mod.Revision) > 0 {
			m.Revision = mod.Revision[0].Name
		}
		e := yang.ToEntry(mod)
		for child, ce := range e.Dir {
			switch {
			case ce.RPC != nil:
				s.RPCs[child] = ce
				m.Implemented = true
			case ce.IsDir() || ce.IsLeaf() || ce.IsLeafList():
				if prev, dup := s.TopModule[child]; dup {
					return nil, fmt.Errorf("yang: top-level node %s defined in %s and %s", child, prev, name)
				}
				s.Top[child] = ce
				s.TopModule[child] = name
				m.Implemented = true
			}
		}
		s.Modules = append(s.Modules, m)
	}
	sort.Slice(s.Modules, func(i, j int) bool { return s.Modules[i].Name < s.Modules[j].Name })
	for _, m := range s.Modules {
		fmt.Fprintf(h, "%s@%s\n", m.Name, m.Revision)
		h.Write(m.Source)
	}
	s.ContentID = hex.EncodeToString(h.Sum(nil))[:16]
	return s, nil
}

// Module returns the named module.
func (s *Schema) Module(name string) (Module, bool) {
	i := sort.Search(len(s.Modules), func(i int) bool { return s.Modules[i].Name >= name })
	if i < len(s.Modules) && s.Modules[i].Name == name {
		return s.Modules[i], true
	}
	return Module{}, false
}

// IsConfig reports whether e is configuration (not config false, nor
// under a config false node).
func IsConfig(e *yang.Entry) bool { return !e.ReadOnly() }

// Keys returns the key leaf names of list e, in the order of its key
// statement.
func Keys(e *yang.Entry) []string {
	if e.Key == "" {
		return nil
	}
	return strings.Fields(e.Key)
}

// IsWriteOnly reports whether leaf e carries tandem-types:write-only (a
// secret that reads never return).
func IsWriteOnly(e *yang.Entry) bool {
	for _, ext := range e.Exts {
		if strings.HasSuffix(ext.Keyword, ":write-only") {
			return true
		}
	}
	return false
}

// Children returns e's child entries sorted by name.
func Children(e *yang.Entry) []*yang.Entry {
	out := make([]*yang.Entry, 0, len(e.Dir))
	for _, c := range e.Dir {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
