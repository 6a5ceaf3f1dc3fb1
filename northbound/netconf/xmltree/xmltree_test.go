package xmltree

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
	yangfs "github.com/tandem-ha/tandem/yang"
)

func tandemSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := Load(yangfs.FS, "*.yang", "ietf/*.yang")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := Load(os.DirFS("testdata"), "*.yang")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// toXML renders nodes inside a <data> element in the NETCONF namespace.
func toXML(s *Schema, nodes []*Node) []byte {
	var w Writer
	w.Start(NetconfNS, "data")
	s.WriteNodes(&w, nodes)
	w.End()
	return w.Bytes()
}

// fromXML parses a <data> document back into nodes.
func fromXML(t testing.TB, s *Schema, doc []byte, opts DecodeOptions) []*Node {
	t.Helper()
	el, err := Parse(doc)
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	nodes, err := s.Decode(el.Children, opts)
	if err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return nodes
}

func sameJSON(t *testing.T, a, b []byte) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("JSON differs:\n%s\nvs\n%s", a, b)
	}
}

// The lab pair's configuration and the default configuration (every
// tandem module, with lists, leaf-lists, enumerations, 64-bit integers,
// unions of the IETF types) go JSON -> XML -> JSON unchanged, and ygot
// decodes the result to the same configuration.
func TestRoundTripTandemConfig(t *testing.T) {
	s := tandemSchema(t)
	pair, err := model.Decode([]byte(topo.PairConfig))
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]*tandem.Device{"lab pair": pair, "default": model.Default()} {
		enc, err := model.Encode(d)
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := s.FromJSON(enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		doc := toXML(s, nodes)
		back, err := ToJSON(fromXML(t, s, doc, DecodeOptions{ConfigOnly: true}))
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, enc, back)
		again, err := model.Decode(back)
		if err != nil {
			t.Fatalf("%s: ygot refuses the converted JSON: %v", name, err)
		}
		if !model.Equal(d, again) {
			t.Errorf("%s: configuration changed in the round trip", name)
		}
		if !bytes.Contains(doc, []byte(`<ha xmlns="urn:tandem:yang:tandem-ha">`)) {
			t.Errorf("%s: XML lacks the tandem-ha namespace:\n%.300s", name, doc)
		}
	}
}

// Identities, empty, int64, decimal64, bits, unions and leaf-lists
// convert to the RFC 7951 JSON forms and back.
func TestRoundTripTypes(t *testing.T) {
	s := testSchema(t)
	doc := []byte(`<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
	  <top xmlns="urn:tandem:test:xt-types" xmlns:x="urn:tandem:test:xt-types">
	    <proto>x:udp</proto>
	    <enabled/>
	    <big>-9007199254740993</big>
	    <ratio>3.5</ratio>
	    <flags>a c</flags>
	    <port>443</port>
	    <small>+7</small>
	    <tags>b</tags><tags>a</tags>
	    <protos xmlns:t="urn:tandem:test:xt-types">t:tcp</protos>
	    <rule><action>drop</action><b>2</b><a>x</a></rule>
	    <rule><a>y</a><b>3</b><opts><log>true</log></opts></rule>
	  </top>
	</data>`)
	nodes := fromXML(t, s, doc, DecodeOptions{})
	got, err := ToJSON(nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"xt-types:top": {
	  "proto": "xt-types:udp", "enabled": [null], "big": "-9007199254740993", "ratio": "3.50",
	  "flags": "a c", "port": 443, "small": 7, "tags": ["b", "a"], "protos": ["xt-types:tcp"],
	  "rule": [{"a": "x", "b": 2, "action": "drop"}, {"a": "y", "b": 3, "opts": {"log": true}}]}}`
	sameJSON(t, got, []byte(want))
	// And back: JSON -> nodes -> XML -> nodes -> JSON.
	fromJ, err := s.FromJSON([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	out := toXML(s, fromJ)
	for _, frag := range []string{`<proto xmlns:xt="urn:tandem:test:xt-types">xt:udp</proto>`, `<enabled/>`, `<rule><a>x</a><b>2</b>`} {
		if !bytes.Contains(out, []byte(frag)) {
			t.Errorf("XML lacks %s:\n%s", frag, out)
		}
	}
	again, err := ToJSON(fromXML(t, s, out, DecodeOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, again, []byte(want))
	// A union value that is not a number stays a string.
	fromJ, err = s.FromJSON([]byte(`{"xt-types:top": {"port": "any"}}`))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := ToJSON(fromJ)
	sameJSON(t, j, []byte(`{"xt-types:top": {"port": "any"}}`))
}

func TestDecodeErrors(t *testing.T) {
	s := testSchema(t)
	for _, c := range []struct{ doc, tag, path string }{
		{`<top xmlns="urn:other"/>`, "unknown-namespace", "/top"},
		{`<top xmlns="urn:tandem:test:xt-types"><nope/></top>`, "unknown-element", "/top/nope"},
		{`<top xmlns="urn:tandem:test:xt-types"><small>11</small></top>`, "invalid-value", "/top/small"},
		{`<top xmlns="urn:tandem:test:xt-types"><big>x</big></top>`, "invalid-value", "/top/big"},
		{`<top xmlns="urn:tandem:test:xt-types"><enabled>yes</enabled></top>`, "invalid-value", "/top/enabled"},
		{`<top xmlns="urn:tandem:test:xt-types"><proto>xt:udp</proto></top>`, "invalid-value", "/top/proto"},
		{`<top xmlns="urn:tandem:test:xt-types" xmlns:q="urn:tandem:test:xt-types"><proto>q:sctp</proto></top>`, "invalid-value", "/top/proto"},
		{`<top xmlns="urn:tandem:test:xt-types"><port>ANY</port></top>`, "invalid-value", "/top/port"},
		{`<top xmlns="urn:tandem:test:xt-types"><rule><a>x</a></rule></top>`, "missing-element", "/top/rule"},
		{`<top xmlns="urn:tandem:test:xt-types">text</top>`, "bad-element", "/top"},
		{`<top xmlns="urn:tandem:test:xt-types" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="zap"/>`, "bad-attribute", "/top"},
	} {
		el, err := Parse([]byte(`<config>` + c.doc + `</config>`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Decode(el.Children, DecodeOptions{Ops: true})
		var de *Error
		if !errors.As(err, &de) || de.Tag != c.tag || de.Path != c.path {
			t.Errorf("%s: err = %v, want tag %s at %s", c.doc, err, c.tag, c.path)
		}
	}
}

func TestDecodeRefusesState(t *testing.T) {
	s := tandemSchema(t)
	el, err := Parse([]byte(`<config><ha xmlns="urn:tandem:yang:tandem-ha"><state><role>active</role></state></ha></config>`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Decode(el.Children, DecodeOptions{ConfigOnly: true})
	var de *Error
	if !errors.As(err, &de) || de.Path != "/ha/state" {
		t.Fatalf("err = %v, want a refusal of /ha/state", err)
	}
}

func TestParseRefusesHostileXML(t *testing.T) {
	for name, doc := range map[string]string{
		"dtd":        `<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`,
		"two roots":  `<a/><b/>`,
		"deep":       strings.Repeat("<a>", MaxDepth+1) + strings.Repeat("</a>", MaxDepth+1),
		"unclosed":   `<a><b></a>`,
		"no element": ``,
	} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: err = %v, want ErrSyntax", name, err)
		}
	}
}

// FuzzDecode feeds arbitrary documents to the XML parser and the
// schema-driven decoder: they never panic, and whatever decodes converts
// to JSON, back to nodes and XML, and decodes again to the same JSON.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`<config><top xmlns="urn:tandem:test:xt-types"><proto xmlns:x="urn:tandem:test:xt-types">x:tcp</proto><enabled/></top></config>`,
		`<config><top xmlns="urn:tandem:test:xt-types"><rule><a>x</a><b>1</b></rule><tags>q</tags><port>any</port></top></config>`,
		`<config><top xmlns="urn:tandem:test:xt-types"><ratio>1.25</ratio><flags>b</flags><big>12</big></top></config>`,
		`<config><top xmlns="urn:tandem:test:xt-types" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace"><small>-3</small></top></config>`,
		`<config><ha xmlns="urn:tandem:yang:tandem-ha"><config><mode>active-standby</mode></config></ha></config>`,
		`<a xmlns:p="u"><p:b/></a>`,
	} {
		f.Add([]byte(seed))
	}
	ts := testSchema(f)
	th := tandemSchema(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := Parse(data)
		if err != nil {
			return
		}
		for _, s := range []*Schema{ts, th} {
			nodes, err := s.Decode(el.Children, DecodeOptions{Ops: true})
			if err != nil {
				continue
			}
			j, err := ToJSON(nodes)
			if err != nil {
				continue // e.g. a delete operation on a leaf without value
			}
			back, err := s.FromJSON(j)
			if err != nil {
				t.Fatalf("own JSON %s does not convert back: %v", j, err)
			}
			doc := toXML(s, back)
			again, err := Parse(doc)
			if err != nil {
				t.Fatalf("own XML %s does not parse: %v", doc, err)
			}
			nodes2, err := s.Decode(again.Children, DecodeOptions{})
			if err != nil {
				t.Fatalf("own XML %s does not decode: %v", doc, err)
			}
			j2, err := ToJSON(nodes2)
			if err != nil || !bytes.Equal(j, j2) {
				t.Fatalf("round trip changed the data:\n%s\n%s (%v)", j, j2, err)
			}
		}
	})
}
