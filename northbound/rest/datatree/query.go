package datatree

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"github.com/tandem-ha/tandem/northbound/rest/rcpath"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
)

// Depth prunes v, the value of the node at schema e (nil: the datastore
// root), to depth levels (RFC 8040, 4.8.2): the node itself is level 1,
// its children level 2; a container or list entry at the last level is
// rendered empty. A list and its entries count as one level.
func Depth(v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		if depth <= 1 {
			return out
		}
		for k, c := range x {
			if isScalarish(c) {
				out[k] = c
				continue
			}
			out[k] = Depth(c, depth-1)
		}
		return out
	case []any:
		if isScalarish(x) {
			return x
		}
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = Depth(c, depth)
		}
		return out
	}
	return v
}

// isScalarish reports whether v is a leaf or leaf-list value.
func isScalarish(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return false
	case []any:
		for _, c := range x {
			if _, ok := c.(map[string]any); ok {
				return false
			}
		}
		return true
	}
	return true
}

// Fields is a parsed RFC 8040 fields expression: the selected children,
// each with its own selection (nil selects the whole subtree).
type Fields map[string]Fields

// ParseFields parses a fields expression such as
// "config(mode;heartbeat-interval);devices/device/config/designation".
func ParseFields(expr string) (Fields, error) {
	p := &fieldsParser{s: expr}
	f, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("fields %q: unexpected %q at offset %d", expr, p.s[p.i], p.i)
	}
	return f, nil
}

type fieldsParser struct {
	s string
	i int
}

func (p *fieldsParser) expr() (Fields, error) {
	out := Fields{}
	for {
		var path []string
		for {
			start := p.i
			for p.i < len(p.s) && !strings.ContainsRune("/;()", rune(p.s[p.i])) {
				p.i++
			}
			id := p.s[start:p.i]
			if _, local, ok := strings.Cut(id, ":"); ok {
				id = local
			}
			if !rcpath.ValidIdent(id) {
				return nil, fmt.Errorf("fields %q: %q at offset %d is not a node name", p.s, p.s[start:p.i], start)
			}
			path = append(path, id)
			if p.i < len(p.s) && p.s[p.i] == '/' {
				p.i++
				continue
			}
			break
		}
		var sub Fields
		if p.i < len(p.s) && p.s[p.i] == '(' {
			p.i++
			var err error
			if sub, err = p.expr(); err != nil {
				return nil, err
			}
			if p.i >= len(p.s) || p.s[p.i] != ')' {
				return nil, fmt.Errorf("fields %q: missing ')'", p.s)
			}
			p.i++
		}
		out.add(path, sub)
		if p.i < len(p.s) && p.s[p.i] == ';' {
			p.i++
			continue
		}
		return out, nil
	}
}

// add selects path with sub below it; a whole-subtree selection wins.
func (f Fields) add(path []string, sub Fields) {
	cur := f
	for i, id := range path {
		last := i == len(path)-1
		next, seen := cur[id]
		switch {
		case seen && next == nil:
			return // already the whole subtree
		case last && sub == nil:
			cur[id] = nil
			return
		case !seen:
			next = Fields{}
			cur[id] = next
		}
		if last {
			for k, v := range sub {
				next.add([]string{k}, v)
			}
			return
		}
		cur = next
	}
}

// Select keeps the parts of v (the value of schema node e, nil for the
// datastore root) that f selects; list keys are always kept. A name that
// is no child of the node is an error.
func Select(s *schema.Schema, e *yang.Entry, v any, f Fields) (any, error) {
	if f == nil {
		return v, nil
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, c := range x {
			sc, err := Select(s, e, c, f)
			if err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for name, sub := range f {
			ce, member := childOf(s, e, name)
			if ce == nil {
				return nil, fmt.Errorf("fields: %s has no child %q", nodeName(e), name)
			}
			c, ok := x[member]
			if !ok {
				c, ok = x[name]
				member = name
			}
			if !ok {
				continue
			}
			sc, err := Select(s, ce, c, sub)
			if err != nil {
				return nil, err
			}
			out[member] = sc
		}
		if e != nil && e.IsList() {
			for _, k := range schema.Keys(e) {
				if kv, ok := x[k]; ok {
					out[k] = kv
				}
			}
		}
		return out, nil
	}
	return v, nil
}

// childOf resolves a selected name below e (or a top-level node at the
// root) and the member name it has in a document.
func childOf(s *schema.Schema, e *yang.Entry, name string) (*yang.Entry, string) {
	if e == nil {
		if m := s.TopModule[name]; m != "" {
			return s.Top[name], m + ":" + name
		}
		return nil, ""
	}
	return e.Dir[name], name
}

func nodeName(e *yang.Entry) string {
	if e == nil {
		return "the datastore"
	}
	return e.Name
}

// DefaultsMode is the with-defaults query parameter (RFC 8040, 4.8.9;
// RFC 6243).
type DefaultsMode string

// The with-defaults modes.
const (
	Explicit        DefaultsMode = "explicit"
	Trim            DefaultsMode = "trim"
	ReportAll       DefaultsMode = "report-all"
	ReportAllTagged DefaultsMode = "report-all-tagged"
)

// ParseDefaultsMode checks a with-defaults value ("" is explicit).
func ParseDefaultsMode(s string) (DefaultsMode, error) {
	switch m := DefaultsMode(s); m {
	case "":
		return Explicit, nil
	case Explicit, Trim, ReportAll, ReportAllTagged:
		return m, nil
	}
	return "", fmt.Errorf("with-defaults %q: use explicit, trim, report-all or report-all-tagged", s)
}

// defaultTag is the RFC 6243 / RFC 7952 annotation of a default leaf.
const defaultTag = "ietf-netconf-with-defaults:default"

// Defaults applies mode to v, the value of schema node e (nil: the
// datastore root): report-all adds the default of every absent
// configuration leaf (also inside absent non-presence containers),
// report-all-tagged also marks each leaf that holds its default with
// {"@leaf": {"ietf-netconf-with-defaults:default": true}}, trim removes
// leaves that hold their default. State leaves are reported as the state
// tree holds them.
func Defaults(s *schema.Schema, e *yang.Entry, v any, mode DefaultsMode) any {
	if mode == Explicit {
		return v
	}
	switch x := v.(type) {
	case []any:
		if e != nil && e.IsList() {
			for _, c := range x {
				Defaults(s, e, c, mode)
			}
		}
		return x
	case map[string]any:
		if e == nil {
			for k, c := range x {
				Defaults(s, RootEntry(s, k), c, mode)
			}
			return x
		}
		defaultsIn(e, x, mode)
		return x
	}
	return v
}

// defaultsIn applies mode to obj, the object of container or list entry e.
func defaultsIn(e *yang.Entry, obj map[string]any, mode DefaultsMode) {
	for name, ce := range e.Dir {
		v, present := obj[name]
		switch {
		case ce.IsLeaf() || ce.IsLeafList():
			def := ce.DefaultValues()
			if len(def) == 0 || !schema.IsConfig(ce) {
				continue
			}
			isDefault := present && equalsDefault(v, def)
			switch {
			case mode == Trim && isDefault:
				delete(obj, name)
			case (mode == ReportAll || mode == ReportAllTagged) && !present:
				obj[name] = defaultValue(ce, def)
				isDefault = true
			}
			if mode == ReportAllTagged && isDefault {
				obj["@"+name] = map[string]any{defaultTag: true}
			}
		case ce.IsList():
			if arr, ok := v.([]any); ok {
				for _, c := range arr {
					if m, ok := c.(map[string]any); ok {
						defaultsIn(ce, m, mode)
					}
				}
			}
		case ce.IsContainer():
			if m, ok := v.(map[string]any); ok {
				defaultsIn(ce, m, mode)
				continue
			}
			if !present && (mode == ReportAll || mode == ReportAllTagged) && !isPresence(ce) && schema.IsConfig(ce) {
				m := map[string]any{}
				defaultsIn(ce, m, mode)
				if len(m) > 0 {
					obj[name] = m
				}
			}
		}
	}
}

func isPresence(e *yang.Entry) bool {
	c, ok := e.Node.(*yang.Container)
	return ok && c.Presence != nil
}

func equalsDefault(v any, def []string) bool {
	if arr, ok := v.([]any); ok {
		if len(arr) != len(def) {
			return false
		}
		for i, x := range arr {
			if s, _ := scalarString(x); s != def[i] {
				return false
			}
		}
		return true
	}
	s, ok := scalarString(v)
	return ok && len(def) == 1 && s == def[0]
}

// defaultValue renders a default in the leaf's RFC 7951 JSON type.
func defaultValue(e *yang.Entry, def []string) any {
	one := func(s string) any {
		switch e.Type.Kind {
		case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yuint8, yang.Yuint16, yang.Yuint32:
			return json.Number(s)
		case yang.Ybool:
			b, _ := strconv.ParseBool(s)
			return b
		case yang.Yempty:
			return []any{nil}
		}
		return s
	}
	if e.IsLeafList() {
		out := make([]any, len(def))
		for i, d := range def {
			out[i] = one(d)
		}
		return out
	}
	return one(def[0])
}

// DefaultOf returns the default of configuration leaf e in its JSON type.
func DefaultOf(e *yang.Entry) (any, bool) {
	if e == nil || !(e.IsLeaf() || e.IsLeafList()) || !schema.IsConfig(e) {
		return nil, false
	}
	def := e.DefaultValues()
	if len(def) == 0 {
		return nil, false
	}
	return defaultValue(e, def), true
}
