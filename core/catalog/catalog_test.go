package catalog

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// SPEC: PLAT-1
func TestModelsAndPortMaps(t *testing.T) {
	want := []string{"lab", "linux", "nsa-2600", "nsa-3600", "nsa-4600", "nsa-5600", "nsa-6600",
		"sm-9200", "sm-9400", "sm-9600", "soho-w", "tz-300", "tz-400", "tz-500", "tz-600"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, c := range []struct {
		model string
		class Class
		ha    bool
	}{
		{"soho-w", ClassSOHO, false}, {"tz-500", ClassTZ, true}, {"nsa-6600", ClassNSA, true},
		{"sm-9600", ClassSM, true}, {"lab", ClassLab, true}, {"linux", ClassLinux, true},
	} {
		m, ok := Lookup(c.model)
		if !ok || m.Class != c.class || m.HA != c.ha {
			t.Errorf("Lookup(%s) = %v %v %v, want class %v ha %v", c.model, ok, m.Class, m.HA, c.class, c.ha)
		}
	}
	lab, _ := Lookup("lab")
	if lab.PortCount() != 10 || lab.PortRange() != "X0..X9" {
		t.Errorf("lab ports %s (%d)", lab.PortRange(), lab.PortCount())
	}
	for i, p := range lab.Ports {
		if p.Name != "X"+strconv.Itoa(i) || p.Netdev != "x"+strconv.Itoa(i) {
			t.Errorf("lab port %d = %+v", i, p)
		}
	}
	if _, ok := lab.HAPort(); ok {
		t.Error("lab has no labelled HA port")
	}
	sm, _ := Lookup("sm-9600")
	if p, ok := sm.HAPort(); !ok || p.Name != "X20" {
		t.Errorf("sm-9600 HA port = %+v %v", p, ok)
	}
	if p, _ := sm.Port("X0"); p.Speed != 10000 {
		t.Errorf("sm-9600 X0 speed %d", p.Speed)
	}
	if _, ok := sm.Port("X21"); ok {
		t.Error("sm-9600 has no X21")
	}
	if _, ok := Lookup("nsa-9999"); ok {
		t.Error("unknown model found")
	}
	// Lookup hands out copies.
	sm.Ports[0].Name = "Y"
	if again, _ := Lookup("sm-9600"); again.Ports[0].Name != "X0" {
		t.Error("Lookup returned shared port slice")
	}
}

// SPEC: LIC-1
func TestLicenceTable(t *testing.T) {
	const I, L, N = Included, Licence, NotAvailable
	for _, c := range []struct {
		model string
		want  [4]Status
	}{
		{"soho-w", [4]Status{N, N, N, N}},
		{"tz-300", [4]Status{I, N, N, N}},
		{"tz-400", [4]Status{I, N, N, N}},
		{"tz-500", [4]Status{I, L, N, N}},
		{"tz-600", [4]Status{I, L, N, N}},
		{"nsa-2600", [4]Status{I, L, N, N}},
		{"nsa-3600", [4]Status{I, L, N, N}},
		{"nsa-4600", [4]Status{I, I, N, N}},
		{"nsa-5600", [4]Status{I, I, L, L}},
		{"nsa-6600", [4]Status{I, I, L, L}},
		{"sm-9200", [4]Status{I, I, I, I}},
		{"sm-9400", [4]Status{I, I, I, I}},
		{"sm-9600", [4]Status{I, I, I, I}},
		{"lab", [4]Status{I, I, I, I}},
		{"linux", [4]Status{I, I, I, I}},
	} {
		m, ok := Lookup(c.model)
		if !ok {
			t.Fatalf("%s missing", c.model)
		}
		for i, f := range Features {
			if got := m.Feature(f).Status; got != c.want[i] {
				t.Errorf("%s %s = %s, want %s", c.model, f, got, c.want[i])
			}
		}
	}
	tz, _ := Lookup("tz-500")
	a := tz.Feature(StatefulHA)
	if !a.SatisfiedBy([]string{"stateful-ha"}) || !a.SatisfiedBy([]string{"support", "expanded"}) || a.SatisfiedBy([]string{"aa-dpi"}) || a.SatisfiedBy(nil) {
		t.Errorf("tz-500 stateful-ha licences %v", a.Licences)
	}
	nsa, _ := Lookup("nsa-6600")
	if a := nsa.Feature(AAClustering); !a.SatisfiedBy([]string{"aa-clustering"}) || a.SatisfiedBy([]string{"stateful-ha"}) {
		t.Errorf("nsa-6600 aa-clustering licences %v", a.Licences)
	}
	if nsa.Feature("nonsense").Status != NotAvailable {
		t.Error("unknown feature must be not-available")
	}
}

func TestParseRejectsMalformedData(t *testing.T) {
	const feats = `"features":{"active-standby":{"availability":"included"},"stateful-ha":{"availability":"included"},"aa-clustering":{"availability":"included"},"aa-dpi":{"availability":"included"}}`
	for _, c := range []struct{ name, data, want string }{
		{"not json", `{`, "decode"},
		{"unknown field", `{"models":[{"name":"a","colour":1}]}`, "unknown field"},
		{"no models", `{"models":[]}`, "no models"},
		{"bad class", `{"models":[{"name":"a","class":"xx","ha":true,"ports":[{"count":1,"speed":1}],` + feats + `}]}`, "unknown class"},
		{"ha missing", `{"models":[{"name":"a","class":"lab","ports":[{"count":1,"speed":1}],` + feats + `}]}`, `"ha" is missing`},
		{"no ports", `{"models":[{"name":"a","class":"lab","ha":true,"ports":[],` + feats + `}]}`, "0 ports"},
		{"bad ha port", `{"models":[{"name":"a","class":"lab","ha":true,"ha-port":"X5","ports":[{"count":1,"speed":1}],` + feats + `}]}`, "ha-port X5"},
		{"missing feature", `{"models":[{"name":"a","class":"lab","ha":true,"ports":[{"count":1,"speed":1}],"features":{}}]}`, "is missing"},
		{"bad licence", `{"models":[{"name":"a","class":"lab","ha":true,"ports":[{"count":1,"speed":1}],` +
			strings.Replace(feats, `"aa-dpi":{"availability":"included"}`, `"aa-dpi":{"availability":"licence","licences":["gold"]}`, 1) + `}]}`, "not a tandem-licensing licence"},
		{"licence without list", `{"models":[{"name":"a","class":"lab","ha":true,"ports":[{"count":1,"speed":1}],` +
			strings.Replace(feats, `"aa-dpi":{"availability":"included"}`, `"aa-dpi":{"availability":"licence"}`, 1) + `}]}`, "lists none"},
		{"no-HA model with feature", `{"models":[{"name":"a","class":"soho","ha":false,"ports":[{"count":1,"speed":1}],` + feats + `}]}`, "without HA"},
		{"duplicate", `{"models":[{"name":"a","class":"lab","ha":true,"ports":[{"count":1,"speed":1}],` + feats + `},{"name":"a","class":"lab","ha":true,"ports":[{"count":1,"speed":1}],` + feats + `}]}`, "duplicate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("parse error = %v, want containing %q", err, c.want)
			}
		})
	}
	if _, err := parse(modelsJSON); err != nil {
		t.Fatalf("embedded data: %v", err)
	}
}
