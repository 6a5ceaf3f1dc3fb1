package netconf

import (
	"crypto/sha256"
	"encoding/hex"
)

// The capabilities tandem announces in its hello.
const (
	capBase10 = "urn:ietf:params:netconf:base:1.0"
	capBase11 = "urn:ietf:params:netconf:base:1.1"
)

var protocolCapabilities = []string{
	capBase10,
	capBase11,
	"urn:ietf:params:netconf:capability:writable-running:1.0",
	"urn:ietf:params:netconf:capability:candidate:1.0",
	"urn:ietf:params:netconf:capability:confirmed-commit:1.0",
	"urn:ietf:params:netconf:capability:confirmed-commit:1.1",
	"urn:ietf:params:netconf:capability:rollback-on-error:1.0",
	"urn:ietf:params:netconf:capability:validate:1.0",
	"urn:ietf:params:netconf:capability:validate:1.1",
	"urn:ietf:params:netconf:capability:xpath:1.0",
	"urn:ietf:params:netconf:capability:notification:1.0",
	"urn:ietf:params:netconf:capability:interleave:1.0",
	"urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim",
	monNS + "?module=ietf-netconf-monitoring&revision=2010-10-04",
	wdNS + "?module=ietf-netconf-with-defaults&revision=2011-06-01",
}

// capabilities lists the hello's capabilities: the protocol's, and the
// YANG library's with its content id (RFC 8526 section 2: YANG 1.1
// modules are announced through the library, not one by one).
func (s *Server) capabilities() []string {
	out := append([]string(nil), protocolCapabilities...)
	return append(out, "urn:ietf:params:netconf:capability:yang-library:1.1?revision=2019-01-04&content-id="+s.contentID())
}

// contentID identifies the set of modules: it changes when a module or
// revision does.
func (s *Server) contentID() string {
	h := sha256.New()
	for _, m := range s.schema.Modules() {
		h.Write([]byte(m.Name + "@" + m.Revision + "\n"))
		h.Write(m.Source)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
