package filter

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/tandem-ha/tandem/northbound/netconf/xmltree"
)

const data = `{"xt-types:top": {"name": "n", "tags": ["a", "b"],
  "rule": [{"a": "x", "b": 1, "action": "drop", "opts": {"log": true}}, {"a": "y", "b": 2}]}}`

func nodes(t *testing.T) []*xmltree.Node {
	t.Helper()
	s, err := xmltree.Load(os.DirFS("../xmltree/testdata"), "*.yang")
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.FromJSON([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func check(t *testing.T, name string, got []*xmltree.Node, want string) {
	t.Helper()
	j, err := xmltree.ToJSON(got)
	if err != nil {
		t.Fatal(err)
	}
	var x, y any
	_ = json.Unmarshal(j, &x)
	if err := json.Unmarshal([]byte(want), &y); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		x = map[string]any{}
	}
	if !reflect.DeepEqual(x, y) {
		t.Errorf("%s:\n got %s\nwant %s", name, j, want)
	}
}

func TestSubtree(t *testing.T) {
	for _, c := range []struct{ name, filter, want string }{
		{"selection", `<top xmlns="urn:tandem:test:xt-types"><name/></top>`, `{"xt-types:top": {"name": "n"}}`},
		{"content match selects entry", `<top xmlns="urn:tandem:test:xt-types"><rule><a>x</a></rule></top>`,
			`{"xt-types:top": {"rule": [{"a": "x", "b": 1, "action": "drop", "opts": {"log": true}}]}}`},
		{"content match plus selection keeps keys", `<top xmlns="urn:tandem:test:xt-types"><rule><a>x</a><opts/></rule></top>`,
			`{"xt-types:top": {"rule": [{"a": "x", "b": 1, "opts": {"log": true}}]}}`},
		{"no namespace matches any", `<top><tags/></top>`, `{"xt-types:top": {"tags": ["a", "b"]}}`},
		{"other namespace matches nothing", `<top xmlns="urn:other"/>`, `{}`},
		{"failed content match", `<top xmlns="urn:tandem:test:xt-types"><rule><a>nope</a></rule></top>`, `{}`},
		{"empty filter", ``, `{}`},
	} {
		el, err := xmltree.Parse([]byte(`<filter>` + c.filter + `</filter>`))
		if err != nil {
			t.Fatal(err)
		}
		check(t, c.name, Subtree(nodes(t), el.Children), c.want)
	}
}

func TestXPath(t *testing.T) {
	ns := map[string]string{"x": "urn:tandem:test:xt-types"}
	for _, c := range []struct{ name, expr, want string }{
		{"leaf", "/x:top/x:name", `{"xt-types:top": {"name": "n"}}`},
		{"predicate keeps keys", "/x:top/x:rule[x:a='y']/x:b", `{"xt-types:top": {"rule": [{"a": "y", "b": 2}]}}`},
		{"descendant", "//x:log", `{"xt-types:top": {"rule": [{"a": "x", "b": 1, "opts": {"log": true}}]}}`},
		{"union", "/x:top/x:name | /x:top/x:tags[.='b']", `{"xt-types:top": {"name": "n", "tags": ["b"]}}`},
		{"text node", "/x:top/x:name/text()", `{"xt-types:top": {"name": "n"}}`},
		{"root", "/", data},
		{"unprefixed", "/top/name", `{"xt-types:top": {"name": "n"}}`},
	} {
		got, err := XPath(nodes(t), c.expr, ns)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		check(t, c.name, got, c.want)
	}
	for _, bad := range []string{"count(/*)", "/x:top[", "/y:top"} {
		if _, err := XPath(nodes(t), bad, ns); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
