package edit

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

func schema(t *testing.T) *xmltree.Schema {
	t.Helper()
	s, err := xmltree.Load(os.DirFS("../xmltree/testdata"), "*.yang")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const base = `{"xt-types:top": {"name": "n", "tags": ["a", "b"],
  "rule": [{"a": "x", "b": 1, "action": "drop"}, {"a": "y", "b": 2}]}}`

func run(t *testing.T, s *xmltree.Schema, edit string, opts Options) (string, []error) {
	t.Helper()
	data, err := s.FromJSON([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	el, err := xmltree.Parse([]byte(`<config xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">` + edit + `</config>`))
	if err != nil {
		t.Fatal(err)
	}
	edits, err := s.Decode(el.Children, xmltree.DecodeOptions{Ops: true})
	if err != nil {
		t.Fatal(err)
	}
	out, errs := Apply(data, edits, opts)
	j, err := xmltree.ToJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	// data is untouched.
	again, _ := xmltree.ToJSON(data)
	if !sameJSON(again, []byte(base)) {
		t.Fatalf("Apply modified its input: %s", again)
	}
	return string(j), errs
}

func sameJSON(a, b []byte) bool {
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	return reflect.DeepEqual(x, y)
}

func TestOperations(t *testing.T) {
	s := schema(t)
	const top = `<top xmlns="urn:tandem:test:xt-types">`
	for _, c := range []struct {
		name, edit string
		opts       Options
		want       string
		tag        string
	}{
		{"merge leaf and new entry", top + `<name>m</name><rule><a>z</a><b>3</b></rule></top>`, Options{},
			`{"xt-types:top": {"name": "m", "tags": ["a", "b"], "rule": [{"a": "x", "b": 1, "action": "drop"}, {"a": "y", "b": 2}, {"a": "z", "b": 3}]}}`, ""},
		{"merge into entry", top + `<rule><a>y</a><b>2</b><action>drop</action></rule></top>`, Options{},
			`{"xt-types:top": {"name": "n", "tags": ["a", "b"], "rule": [{"a": "x", "b": 1, "action": "drop"}, {"a": "y", "b": 2, "action": "drop"}]}}`, ""},
		{"replace entry", top + `<rule nc:operation="replace"><a>x</a><b>1</b></rule></top>`, Options{},
			`{"xt-types:top": {"name": "n", "tags": ["a", "b"], "rule": [{"a": "x", "b": 1}, {"a": "y", "b": 2}]}}`, ""},
		{"delete leaf-list value", top + `<tags nc:operation="delete">a</tags></top>`, Options{},
			`{"xt-types:top": {"name": "n", "tags": ["b"], "rule": [{"a": "x", "b": 1, "action": "drop"}, {"a": "y", "b": 2}]}}`, ""},
		{"remove missing is fine", top + `<rule nc:operation="remove"><a>q</a><b>9</b></rule></top>`, Options{}, base, ""},
		{"delete missing", top + `<rule nc:operation="delete"><a>q</a><b>9</b></rule></top>`, Options{}, base, "data-missing"},
		{"create existing", top + `<name nc:operation="create">z</name></top>`, Options{}, base, "data-exists"},
		{"continue on error", top + `<name nc:operation="create">z</name><tags>c</tags></top>`, Options{ContinueOnError: true},
			`{"xt-types:top": {"name": "n", "tags": ["a", "b", "c"], "rule": [{"a": "x", "b": 1, "action": "drop"}, {"a": "y", "b": 2}]}}`, "data-exists"},
		{"default replace", top + `<name>only</name></top>`, Options{DefaultOperation: "replace"}, `{"xt-types:top": {"name": "only"}}`, ""},
		{"default none touches nothing", top + `<name>zzz</name></top>`, Options{DefaultOperation: "none"}, base, ""},
		{"none with merge below", top + `<rule><a>y</a><b>2</b><action nc:operation="merge">drop</action></rule></top>`, Options{DefaultOperation: "none"},
			`{"xt-types:top": {"name": "n", "tags": ["a", "b"], "rule": [{"a": "x", "b": 1, "action": "drop"}, {"a": "y", "b": 2, "action": "drop"}]}}`, ""},
	} {
		got, errs := run(t, s, c.edit, c.opts)
		if c.tag != "" {
			var e *Error
			if len(errs) != 1 || !errors.As(errs[0], &e) || e.Tag != c.tag {
				t.Errorf("%s: errors %v, want one %s", c.name, errs, c.tag)
			}
		} else if len(errs) > 0 {
			t.Errorf("%s: %v", c.name, errs)
		}
		if c.tag == "" || c.opts.ContinueOnError {
			if !sameJSON([]byte(got), []byte(c.want)) {
				t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
			}
		}
	}
}
