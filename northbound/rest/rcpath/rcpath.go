// Package rcpath parses RESTCONF resource paths (RFC 8040, section 3.5.3)
// against tandem's YANG: /restconf/data/tandem-ha:ha/devices/device=S1
// names the list entry that core/model writes as
// /ha/devices/device[serial-number=S1]. Keys are percent-decoded after
// splitting on "," so that a key holding a comma is sent as %2C.
package rcpath

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
)

// Step is one node of a path.
type Step struct {
	// Entry is the node's schema.
	Entry *yang.Entry
	// Module is the node's module.
	Module string
	// Keys are the list entry's key values in the order of the key
	// statement, or a leaf-list entry's value; nil when the step names
	// the whole list.
	Keys []string
}

// Name is the node name.
func (s Step) Name() string { return s.Entry.Name }

// Target is a parsed path; no steps is the datastore root.
type Target struct {
	Steps []Step
}

// Error is a path that does not name a node: RESTCONF answers 400
// (malformed) or 404 (unknown node).
type Error struct {
	Path     string
	Msg      string
	NotFound bool
}

func (e *Error) Error() string { return fmt.Sprintf("path %q: %s", e.Path, e.Msg) }

// Root reports whether t is the datastore root.
func (t Target) Root() bool { return len(t.Steps) == 0 }

// Last returns the final step; t must not be the root.
func (t Target) Last() Step { return t.Steps[len(t.Steps)-1] }

// Entry returns the schema of the target node, nil for the root.
func (t Target) Entry() *yang.Entry {
	if t.Root() {
		return nil
	}
	return t.Last().Entry
}

// Module returns the module of the top-level node ("" for the root).
func (t Target) Module() string {
	if t.Root() {
		return ""
	}
	return t.Steps[0].Module
}

// IsEntry reports whether the target is one list or leaf-list entry.
func (t Target) IsEntry() bool {
	return !t.Root() && t.Last().Keys != nil
}

// Config reports whether the target is configuration (true for the root).
func (t Target) Config() bool {
	return t.Root() || schema.IsConfig(t.Entry())
}

// Parent returns the target without its last step.
func (t Target) Parent() Target { return Target{Steps: t.Steps[:len(t.Steps)-1]} }

// Child returns t extended by a step.
func (t Target) Child(s Step) Target {
	steps := make([]Step, len(t.Steps), len(t.Steps)+1)
	copy(steps, t.Steps)
	return Target{Steps: append(steps, s)}
}

// ModelPath renders the path as core/model and the state tree write it:
// /ha/devices/device[serial-number=S1]/config ("/" for the root). A
// leaf-list entry renders as the leaf-list.
func (t Target) ModelPath() string {
	if t.Root() {
		return "/"
	}
	var b strings.Builder
	for _, s := range t.Steps {
		b.WriteByte('/')
		b.WriteString(s.Name())
		if s.Keys != nil && s.Entry.IsList() {
			for i, k := range schema.Keys(s.Entry) {
				fmt.Fprintf(&b, "[%s=%s]", k, escapeKey(s.Keys[i]))
			}
		}
	}
	return b.String()
}

// escapeKey escapes what ends a gNMI path key value.
func escapeKey(v string) string {
	return strings.NewReplacer(`\`, `\\`, `]`, `\]`).Replace(v)
}

// URL renders the path as RESTCONF writes it, keys percent-encoded, with
// the top-level node module-qualified: tandem-ha:ha/devices/device=S1.
func (t Target) URL() string {
	var b strings.Builder
	for i, s := range t.Steps {
		if i > 0 {
			b.WriteByte('/')
		} else {
			b.WriteString(s.Module + ":")
		}
		b.WriteString(s.Name())
		if s.Keys != nil {
			b.WriteByte('=')
			for j, k := range s.Keys {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(encodeKey(k))
			}
		}
	}
	return b.String()
}

// encodeKey percent-encodes a key value for a path segment, including
// the comma that separates keys.
func encodeKey(k string) string {
	return strings.ReplaceAll(url.PathEscape(k), ",", "%2C")
}

// InstanceID renders the path as an RFC 7951 instance-identifier, the
// form of error-path: /tandem-ha:ha/devices/device[serial-number='S1'].
func (t Target) InstanceID() string {
	var b strings.Builder
	for i, s := range t.Steps {
		b.WriteByte('/')
		if i == 0 {
			b.WriteString(s.Module + ":")
		}
		b.WriteString(s.Name())
		if s.Keys == nil {
			continue
		}
		if s.Entry.IsLeafList() {
			fmt.Fprintf(&b, "[.=%s]", quote(s.Keys[0]))
			continue
		}
		for j, k := range schema.Keys(s.Entry) {
			fmt.Fprintf(&b, "[%s=%s]", k, quote(s.Keys[j]))
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

func quote(v string) string {
	if strings.Contains(v, "'") {
		return `"` + v + `"`
	}
	return "'" + v + "'"
}

// Parse parses the part of a request path after /restconf/data/ (still
// percent-encoded, as in the request URI), such as
// tandem-ha:ha/devices/device=S1/config. An empty path is the root.
func Parse(s *schema.Schema, raw string) (Target, error) {
	raw = strings.TrimSuffix(raw, "/")
	if raw == "" {
		return Target{}, nil
	}
	var t Target
	var cur *yang.Entry
	module := ""
	for i, seg := range strings.Split(raw, "/") {
		if seg == "" {
			return Target{}, &Error{Path: raw, Msg: "empty path segment (//)"}
		}
		ident, keyPart, hasKeys := strings.Cut(seg, "=")
		name, err := url.PathUnescape(ident)
		if err != nil {
			return Target{}, &Error{Path: raw, Msg: fmt.Sprintf("segment %q: %v", seg, err)}
		}
		mod, local, qualified := strings.Cut(name, ":")
		if !qualified {
			mod, local = "", name
		}
		if !ValidIdent(local) || (qualified && !ValidIdent(mod)) {
			return Target{}, &Error{Path: raw, Msg: fmt.Sprintf("segment %q: %q is not a YANG identifier", seg, name)}
		}
		var e *yang.Entry
		if i == 0 {
			if !qualified {
				return Target{}, &Error{Path: raw, Msg: fmt.Sprintf("the top-level node %q must be module-qualified, such as %s:%s", local, moduleOr(s, local), local)}
			}
			e = s.Top[local]
			if e == nil || s.TopModule[local] != mod {
				return Target{}, &Error{Path: raw, NotFound: true, Msg: fmt.Sprintf("no top-level node %s:%s in the YANG library", mod, local)}
			}
			module = mod
		} else {
			if cur.IsLeaf() || cur.IsLeafList() {
				return Target{}, &Error{Path: raw, NotFound: true, Msg: fmt.Sprintf("%s is a leaf and has no child %s", cur.Name, local)}
			}
			if t.Steps[len(t.Steps)-1].Keys == nil && cur.IsList() {
				return Target{}, &Error{Path: raw, Msg: fmt.Sprintf("list %s needs its key (%s) before child %s: %s=KEY/%s", cur.Name, cur.Key, local, cur.Name, local)}
			}
			if qualified && mod != module {
				return Target{}, &Error{Path: raw, NotFound: true, Msg: fmt.Sprintf("node %s: module %s has no node under %s", name, mod, cur.Name)}
			}
			e = cur.Dir[local]
			if e == nil || e.RPC != nil {
				return Target{}, &Error{Path: raw, NotFound: true, Msg: fmt.Sprintf("%s has no child %s", cur.Name, local)}
			}
		}
		step := Step{Entry: e, Module: module}
		if hasKeys {
			switch {
			case e.IsList():
				keys := schema.Keys(e)
				parts := strings.Split(keyPart, ",")
				if len(parts) != len(keys) {
					return Target{}, &Error{Path: raw, Msg: fmt.Sprintf("list %s has %d key(s) (%s), the path gives %d", e.Name, len(keys), e.Key, len(parts))}
				}
				for _, p := range parts {
					v, err := url.PathUnescape(p)
					if err != nil {
						return Target{}, &Error{Path: raw, Msg: fmt.Sprintf("key %q of %s: %v", p, e.Name, err)}
					}
					step.Keys = append(step.Keys, v)
				}
			case e.IsLeafList():
				v, err := url.PathUnescape(keyPart)
				if err != nil {
					return Target{}, &Error{Path: raw, Msg: fmt.Sprintf("value %q of %s: %v", keyPart, e.Name, err)}
				}
				step.Keys = []string{v}
			default:
				return Target{}, &Error{Path: raw, Msg: fmt.Sprintf("%s is not a list; only list and leaf-list entries take =KEY", e.Name)}
			}
		}
		t.Steps = append(t.Steps, step)
		cur = e
	}
	return t, nil
}

func moduleOr(s *schema.Schema, local string) string {
	if m := s.TopModule[local]; m != "" {
		return m
	}
	return "MODULE"
}

// ValidIdent reports whether s is a YANG identifier (RFC 7950 section 6.2).
func ValidIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && (r == '-' || r == '.' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}

// FromModelPath converts a core/model path such as
// /interfaces/interface[name=X3]/config/zone into a Target.
func FromModelPath(s *schema.Schema, p string) (Target, error) {
	gp, err := model.ParsePath(p)
	if err != nil {
		return Target{}, &Error{Path: p, Msg: err.Error()}
	}
	var t Target
	var cur *yang.Entry
	for i, el := range gp.GetElem() {
		var e *yang.Entry
		if i == 0 {
			e = s.Top[el.GetName()]
		} else if cur != nil {
			e = cur.Dir[el.GetName()]
		}
		if e == nil {
			return Target{}, &Error{Path: p, NotFound: true, Msg: fmt.Sprintf("no node %s", el.GetName())}
		}
		step := Step{Entry: e, Module: s.TopModule[gp.GetElem()[0].GetName()]}
		if keys := el.GetKey(); len(keys) > 0 {
			if !e.IsList() {
				return Target{}, &Error{Path: p, Msg: fmt.Sprintf("%s is not a list", e.Name)}
			}
			for _, k := range schema.Keys(e) {
				v, ok := keys[k]
				if !ok {
					return Target{}, &Error{Path: p, Msg: fmt.Sprintf("list %s needs key %s", e.Name, k)}
				}
				step.Keys = append(step.Keys, v)
			}
		}
		t.Steps = append(t.Steps, step)
		cur = e
	}
	return t, nil
}
