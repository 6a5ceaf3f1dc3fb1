package schema

import "testing"

func TestLoad(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if s.TopModule["ha"] != "tandem-ha" || s.Top["system"] == nil {
		t.Errorf("top-level nodes: %v", s.TopModule)
	}
	for _, rpc := range []string{"failover", "commit", "rollback", "join", "apply-licence-keyset"} {
		if s.RPCs[rpc] == nil {
			t.Errorf("rpc %s missing", rpc)
		}
	}
	m, ok := s.Module("tandem-types")
	if !ok || m.Implemented || m.Revision == "" {
		t.Errorf("tandem-types: %+v", m)
	}
	if e := s.Top["system"].Dir["state"]; IsConfig(e) {
		t.Errorf("system/state is config")
	}
	dev := s.Top["ha"].Dir["devices"].Dir["device"]
	if got := Keys(dev); len(got) != 1 || got[0] != "serial-number" {
		t.Errorf("device keys %v", got)
	}
	if !IsWriteOnly(s.Top["ha"].Dir["config"].Dir["pre-shared-key"]) {
		t.Errorf("pre-shared-key is not write-only")
	}
}
