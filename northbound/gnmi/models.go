package gnmi

import gpb "github.com/openconfig/gnmi/proto/gnmi"

// models are the YANG modules Capabilities announces: every module with
// data nodes in the schema, and the types module they share. Their
// revisions are those of yang/*.yang; TestCapabilitiesMatchYANG keeps
// this list in step with the files.
var models = []*gpb.ModelData{
	{Name: "tandem-cluster", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-dpi", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-ha", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-ha-monitoring", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-interfaces", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-licensing", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-platform", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-statesync", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-system", Organization: "tandem", Version: "2026-11-21"},
	{Name: "tandem-types", Organization: "tandem", Version: "2026-11-21"},
}
