package gnmi

import (
	"slices"
	"sort"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	"github.com/tandem-ha/tandem/core/model"
)

// Wildcards of gNMI paths: one element (or any key value), and any number
// of elements.
const (
	anyOne  = "*"
	anyMany = "..."
)

// pattern is a request path (prefix and path joined, module prefixes
// dropped) checked against the schema. Its elements may hold wildcards;
// a list element without some of its keys matches every value of them.
type pattern struct {
	elems []*gpb.PathElem
	// text is the path as the client wrote it, for messages.
	text string
	// entry is the schema node the path names; nil after a wildcard name.
	entry *yang.Entry
	// wild reports a wildcard anywhere (name or key value).
	wild bool
	// deterministic is the number of leading elements before the first
	// wildcard name, whose schema nodes are known.
	deterministic int
}

// isRoot reports whether the pattern names the whole tree.
func (p *pattern) isRoot() bool { return len(p.elems) == 0 }

// newPattern joins prefix and path (the prefix's elements first) and
// checks the result against the schema: unknown nodes are a NOT_FOUND
// error, keys on a non-list or unknown key names an INVALID_ARGUMENT one.
func newPattern(prefix, path *gpb.Path) (*pattern, error) {
	//lint:ignore SA1019 the deprecated field is read only to refuse it
	if len(prefix.GetElement()) > 0 || len(path.GetElement()) > 0 {
		return nil, invalidf("path %s: the deprecated element field is not supported; use elem", pathText(prefix, path))
	}
	var elems []*gpb.PathElem
	for _, e := range append(slices.Clone(prefix.GetElem()), path.GetElem()...) {
		name := e.GetName()
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name = name[i+1:]
		}
		var keys map[string]string
		if len(e.GetKey()) > 0 {
			keys = make(map[string]string, len(e.GetKey()))
			for k, v := range e.GetKey() {
				keys[k] = v
			}
		}
		elems = append(elems, &gpb.PathElem{Name: name, Key: keys})
	}
	p := &pattern{elems: elems, text: pathText(prefix, path), entry: model.Root()}
	for i, e := range elems {
		if e.Name == "" {
			return nil, invalidf("path %s: element %d has no name", p.text, i+1)
		}
		if e.Name == anyOne || e.Name == anyMany {
			p.wild = true
			if p.entry != nil {
				p.deterministic = i
			}
			p.entry = nil
			continue
		}
		if anyValue(e.Key) {
			p.wild = true
		}
		if p.entry == nil {
			continue
		}
		child := p.entry.Dir[e.Name]
		if child == nil {
			return nil, notFoundf("path %s: unknown node %q in the YANG schema (under %s); check the path against the models Capabilities lists", p.text, e.Name, schemaPath(p.entry))
		}
		if err := checkKeys(p.text, child, e); err != nil {
			return nil, err
		}
		p.entry = child
	}
	if p.entry != nil {
		p.deterministic = len(elems)
	}
	return p, nil
}

// checkKeys checks the keys of element e against schema node n.
func checkKeys(text string, n *yang.Entry, e *gpb.PathElem) error {
	if len(e.Key) == 0 {
		return nil
	}
	if !n.IsList() {
		return invalidf("path %s: %q is not a list and takes no keys", text, e.Name)
	}
	want := strings.Fields(n.Key)
	for k := range e.Key {
		if !slices.Contains(want, k) {
			return invalidf("path %s: list %q has no key %q (its keys: %s)", text, e.Name, k, strings.Join(want, ", "))
		}
	}
	return nil
}

func anyValue(keys map[string]string) bool {
	for _, v := range keys {
		if v == anyOne {
			return true
		}
	}
	return false
}

// query returns the cache query (ctree path strings) that covers every
// leaf the pattern can match: its deterministic elements, with list keys
// not given (or wildcarded) as "*", cut at the first wildcard name.
func (p *pattern) query() []string {
	var q []string
	e := model.Root()
	for _, el := range p.elems[:p.deterministic] {
		e = e.Dir[el.Name]
		q = append(q, el.Name)
		if !e.IsList() {
			continue
		}
		keys := strings.Fields(e.Key)
		sort.Strings(keys)
		for _, k := range keys {
			v, ok := el.Key[k]
			if !ok {
				v = anyOne
			}
			q = append(q, v)
		}
	}
	return q
}

// matchLen reports whether the pattern matches a prefix of the concrete
// path and how many of its elements it covers (an "..." covers as few as
// it can).
func (p *pattern) matchLen(path []*gpb.PathElem) (int, bool) {
	return matchFrom(p.elems, path, 0)
}

func matchFrom(pat, path []*gpb.PathElem, at int) (int, bool) {
	for i, pe := range pat {
		if pe.Name == anyMany {
			rest := pat[i+1:]
			for skip := at; skip <= len(path); skip++ {
				if n, ok := matchFrom(rest, path, skip); ok {
					return n, true
				}
			}
			return 0, false
		}
		if at >= len(path) {
			return 0, false
		}
		el := path[at]
		if pe.Name != anyOne && pe.Name != el.GetName() {
			return 0, false
		}
		for k, v := range pe.Key {
			got, ok := el.GetKey()[k]
			if !ok || (v != anyOne && v != got) {
				return 0, false
			}
		}
		at++
	}
	return at, true
}

// pathKey renders concrete path elements as one string, keys sorted: the
// identity of a leaf.
func pathKey(elems []*gpb.PathElem) string {
	var b strings.Builder
	for _, e := range elems {
		b.WriteByte('/')
		b.WriteString(e.GetName())
		keys := e.GetKey()
		if len(keys) == 0 {
			continue
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			b.WriteByte('[')
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(keys[k])
			b.WriteByte(']')
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// pathText renders a request's prefix and path for messages.
func pathText(prefix, path *gpb.Path) string {
	return pathKey(append(slices.Clone(prefix.GetElem()), path.GetElem()...))
}

// schemaPath renders the schema path of e, such as /ha/state.
func schemaPath(e *yang.Entry) string {
	var parts []string
	for ; e != nil && e.Parent != nil; e = e.Parent {
		parts = append(parts, e.Name)
	}
	if len(parts) == 0 {
		return "/"
	}
	slices.Reverse(parts)
	return "/" + strings.Join(parts, "/")
}

// schemaEntry walks the schema along concrete path elements; nil when the
// path is not in the schema.
func schemaEntry(elems []*gpb.PathElem) *yang.Entry {
	e := model.Root()
	for _, el := range elems {
		if e = e.Dir[el.GetName()]; e == nil {
			return nil
		}
	}
	return e
}

// leafClass tells how a leaf of the schema counts for GetRequest.type.
type leafClass struct {
	config bool // config true
	// applied is a state leaf that mirrors a config leaf of the same name
	// (OpenConfig's applied configuration): STATE but not OPERATIONAL.
	applied bool
}

// classify returns the class of the leaf at elems.
func classify(elems []*gpb.PathElem) leafClass {
	e := schemaEntry(elems)
	if e == nil {
		return leafClass{}
	}
	if !e.ReadOnly() {
		return leafClass{config: true}
	}
	st := e.Parent
	if st == nil || st.Name != "state" || st.Parent == nil {
		return leafClass{}
	}
	cfg := st.Parent.Dir["config"]
	return leafClass{applied: cfg != nil && cfg.Dir[e.Name] != nil}
}
