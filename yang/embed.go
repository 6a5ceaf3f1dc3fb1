// Package yang embeds tandem's YANG modules, so that servers can publish
// them (NETCONF get-schema, yang-library) and build schema-driven
// encoders from the same sources that gen/ is generated from.
package yang

import "embed"

// FS holds the tandem modules (*.yang) and the IETF modules they import
// (ietf/*.yang).
//
//go:embed *.yang ietf/*.yang
var FS embed.FS
