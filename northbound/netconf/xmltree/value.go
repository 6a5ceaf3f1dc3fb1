package xmltree

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/openconfig/goyang/pkg/yang"
)

// intBits gives the width and signedness of the YANG integer kinds.
var intBits = map[yang.TypeKind]struct {
	bits   int
	signed bool
}{
	yang.Yint8: {8, true}, yang.Yint16: {16, true}, yang.Yint32: {32, true}, yang.Yint64: {64, true},
	yang.Yuint8: {8, false}, yang.Yuint16: {16, false}, yang.Yuint32: {32, false}, yang.Yuint64: {64, false},
}

// resolver maps an XML prefix ("" for the default namespace) to a module
// name; it is only needed for identityref values.
type resolver func(prefix string) (module string, ok bool)

// checkValue checks text against type t and returns the canonical text,
// the member type a union resolved to, and for identities the identity's
// module. res resolves prefixes of identity values (nil: the value is
// "module:name" as in JSON).
func checkValue(t *yang.YangType, text string, res resolver) (canon string, member *yang.YangType, idModule string, err error) {
	if t == nil {
		return text, nil, "", nil
	}
	switch t.Kind {
	case yang.Yunion:
		var errs []string
		for _, m := range t.Type {
			if c, mt, mod, err := checkValue(m, text, res); err == nil {
				return c, mt, mod, nil
			} else {
				errs = append(errs, err.Error())
			}
		}
		return "", nil, "", fmt.Errorf("%q matches none of the union's types (%s)", text, strings.Join(errs, "; "))
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64, yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		ib := intBits[t.Kind]
		var n yang.Number
		if ib.signed {
			v, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(text), "+"), 10, ib.bits)
			if err != nil {
				return "", nil, "", fmt.Errorf("%q is not a %s", text, t.Kind)
			}
			canon, n = strconv.FormatInt(v, 10), yang.FromInt(v)
		} else {
			v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(text), "+"), 10, ib.bits)
			if err != nil {
				return "", nil, "", fmt.Errorf("%q is not a %s", text, t.Kind)
			}
			canon, n = strconv.FormatUint(v, 10), yang.FromUint(v)
		}
		if len(t.Range) > 0 && !t.Range.Contains(yang.YangRange{{Min: n, Max: n}}) {
			return "", nil, "", fmt.Errorf("%s is out of range %s", canon, t.Range)
		}
		return canon, t, "", nil
	case yang.Ydecimal64:
		n, err := yang.ParseDecimal(strings.TrimSpace(text), uint8(t.FractionDigits))
		if err != nil {
			return "", nil, "", fmt.Errorf("%q is not a decimal64 with %d fraction digits", text, t.FractionDigits)
		}
		if len(t.Range) > 0 && !t.Range.Contains(yang.YangRange{{Min: n, Max: n}}) {
			return "", nil, "", fmt.Errorf("%s is out of range %s", text, t.Range)
		}
		return n.String(), t, "", nil
	case yang.Ybool:
		switch v := strings.TrimSpace(text); v {
		case "true", "false":
			return v, t, "", nil
		}
		return "", nil, "", fmt.Errorf("%q is not a boolean (true or false)", text)
	case yang.Yempty:
		if strings.TrimSpace(text) != "" {
			return "", nil, "", fmt.Errorf("type empty takes no value, got %q", text)
		}
		return "", t, "", nil
	case yang.Yenum:
		v := strings.TrimSpace(text)
		if t.Enum == nil || !t.Enum.IsDefined(v) {
			return "", nil, "", fmt.Errorf("%q is not one of %s", text, names(t.Enum))
		}
		return v, t, "", nil
	case yang.Ybits:
		fields := strings.Fields(text)
		for _, f := range fields {
			if t.Bit == nil || !t.Bit.IsDefined(f) {
				return "", nil, "", fmt.Errorf("bit %q is not one of %s", f, names(t.Bit))
			}
		}
		return strings.Join(fields, " "), t, "", nil
	case yang.Ybinary:
		v := strings.Join(strings.Fields(text), "")
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			return "", nil, "", fmt.Errorf("%q is not base64", text)
		}
		return v, t, "", nil
	case yang.Yidentityref:
		mod, name, err := identity(t, strings.TrimSpace(text), res)
		if err != nil {
			return "", nil, "", err
		}
		return name, t, mod, nil
	case yang.Ystring:
		if len(t.Length) > 0 {
			n := yang.FromInt(int64(utf8.RuneCountInString(text)))
			if !t.Length.Contains(yang.YangRange{{Min: n, Max: n}}) {
				return "", nil, "", fmt.Errorf("%q has %d characters, allowed %s", text, utf8.RuneCountInString(text), t.Length)
			}
		}
		for _, p := range t.Pattern {
			if re := pattern(p); re != nil && !re.MatchString(text) {
				return "", nil, "", fmt.Errorf("%q does not match the pattern of type %s", text, t.Name)
			}
		}
		return text, t, "", nil
	}
	return text, t, "", nil
}

// identity resolves an identityref value ("prefix:name" in XML,
// "module:name" in JSON) to the identity's module and name and checks
// that it derives from the type's base.
func identity(t *yang.YangType, v string, res resolver) (string, string, error) {
	prefix, name, found := strings.Cut(v, ":")
	if !found {
		prefix, name = "", v
	}
	mod := prefix
	if res != nil {
		m, ok := res(prefix)
		if !ok {
			return "", "", fmt.Errorf("identity %q: prefix %q is not declared", v, prefix)
		}
		mod = m
	}
	if t.IdentityBase == nil {
		return "", "", fmt.Errorf("identity %q: type has no base", v)
	}
	var known []string
	for _, id := range t.IdentityBase.Values {
		m := identityModule(id)
		if id.Name == name && (mod == "" || mod == m) {
			return m, name, nil
		}
		known = append(known, m+":"+id.Name)
	}
	return "", "", fmt.Errorf("identity %q is not derived from %s (known: %s)", v, t.IdentityBase.Name, strings.Join(known, ", "))
}

func identityModule(id *yang.Identity) string {
	if m := yang.RootNode(id); m != nil {
		if m.Kind() == "submodule" && m.BelongsTo != nil {
			return m.BelongsTo.Name
		}
		return m.Name
	}
	return ""
}

func names(e *yang.EnumType) string {
	if e == nil {
		return "nothing"
	}
	return strings.Join(e.Names(), ", ")
}

var patterns sync.Map // string -> *regexp.Regexp (nil when it does not compile)

// pattern compiles a YANG (XSD) pattern, anchored; patterns that Go's
// regexp cannot express are not checked here (the datastore's YANG
// validation still checks them).
func pattern(p string) *regexp.Regexp {
	if v, ok := patterns.Load(p); ok {
		re, _ := v.(*regexp.Regexp)
		return re
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		re = nil
	}
	patterns.Store(p, re)
	return re
}

// jsonValue renders a leaf value as its RFC 7951 JSON value.
func jsonValue(n *Node) (any, error) {
	if n.Entry == nil {
		return n.Value, nil
	}
	t := leafType(n.Entry)
	if t == nil {
		return n.Value, nil
	}
	_, member, _, err := checkValue(t, n.Value, func(string) (string, bool) { return n.ValueModule, true })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	switch member.Kind {
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yuint8, yang.Yuint16, yang.Yuint32:
		return json.Number(n.Value), nil
	case yang.Ybool:
		return n.Value == "true", nil
	case yang.Yempty:
		return []any{nil}, nil
	case yang.Yidentityref:
		return n.ValueModule + ":" + n.Value, nil
	}
	return n.Value, nil
}

// valueFromJSON checks a RFC 7951 JSON leaf value against e's type and
// returns its XML text and, for identities, the identity's module.
func valueFromJSON(e *yang.Entry, v any) (string, string, error) {
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case json.Number:
		text = x.String()
	case bool:
		text = strconv.FormatBool(x)
	case []any:
		if len(x) == 1 && x[0] == nil {
			text = ""
			break
		}
		return "", "", fmt.Errorf("an array is not a value of leaf %s", e.Name)
	default:
		return "", "", fmt.Errorf("%v is not a value of leaf %s", v, e.Name)
	}
	t := leafType(e)
	canon, member, mod, err := checkValue(t, text, nil)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", e.Name, err)
	}
	if member != nil && member.Kind == yang.Yempty {
		if a, ok := v.([]any); !ok || len(a) != 1 {
			return "", "", fmt.Errorf("%s: type empty is [null] in JSON", e.Name)
		}
	}
	return canon, mod, nil
}
