package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// Change is one leaf that differs between two configurations.
type Change struct {
	// Path is the leaf's path, such as /ha/config/mode.
	Path string `json:"path"`
	// Deleted is true when the leaf is gone in the newer configuration.
	Deleted bool `json:"deleted,omitempty"`
	// Value is the leaf's new value as JSON; secrets show as "(secret)".
	Value json.RawMessage `json:"value,omitempty"`
}

// String renders the change as one line: "+ /path = value" or "- /path".
func (c Change) String() string {
	if c.Deleted {
		return "- " + c.Path
	}
	var b bytes.Buffer
	if json.Compact(&b, c.Value) != nil {
		return fmt.Sprintf("+ %s = %s", c.Path, c.Value)
	}
	return fmt.Sprintf("+ %s = %s", c.Path, b.Bytes())
}

// Diff lists the configuration leaves that differ from older to newer,
// sorted by path. State nodes are ignored.
func Diff(older, newer *tandem.Device) ([]Change, error) {
	a, err := configOnly(older)
	if err != nil {
		return nil, err
	}
	b, err := configOnly(newer)
	if err != nil {
		return nil, err
	}
	n, err := ygot.Diff(a, b)
	if err != nil {
		return nil, fmt.Errorf("diff configurations: %w", err)
	}
	var out []Change
	for _, p := range n.GetDelete() {
		out = append(out, Change{Path: pathString(p), Deleted: true})
	}
	for _, u := range n.GetUpdate() {
		if isKeyLeaf(u.GetPath()) {
			continue // interface[name=X1]/name repeats what the path says
		}
		c := Change{Path: pathString(u.GetPath())}
		if IsWriteOnly(keyless.ReplaceAllString(c.Path, "")) {
			c.Value = json.RawMessage(`"(secret)"`)
		} else {
			c.Value = typedValueJSON(u.GetVal())
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

var keyless = regexp.MustCompile(`\[[^\]]*\]`)

func configOnly(d *tandem.Device) (*tandem.Device, error) {
	c, err := Clone(d)
	if err != nil {
		return nil, err
	}
	pruneConfigFalse(c)
	return c, nil
}

func pathString(p *gpb.Path) string {
	s, err := ygot.PathToString(p)
	if err != nil {
		return p.String()
	}
	return s
}

// isKeyLeaf reports whether the path ends at a key leaf of the list entry
// just above it, such as /interfaces/interface[name=X1]/name.
func isKeyLeaf(p *gpb.Path) bool {
	elems := p.GetElem()
	if len(elems) < 2 {
		return false
	}
	_, ok := elems[len(elems)-2].GetKey()[elems[len(elems)-1].GetName()]
	return ok
}

// typedValueJSON renders a gNMI scalar or leaf-list value as JSON.
func typedValueJSON(v *gpb.TypedValue) json.RawMessage {
	var x any
	switch t := v.GetValue().(type) {
	case *gpb.TypedValue_StringVal:
		x = t.StringVal
	case *gpb.TypedValue_BoolVal:
		x = t.BoolVal
	case *gpb.TypedValue_UintVal:
		x = t.UintVal
	case *gpb.TypedValue_IntVal:
		x = t.IntVal
	case *gpb.TypedValue_DoubleVal:
		x = t.DoubleVal
	case *gpb.TypedValue_LeaflistVal:
		var list []json.RawMessage
		for _, e := range t.LeaflistVal.GetElement() {
			list = append(list, typedValueJSON(e))
		}
		x = list
	case *gpb.TypedValue_JsonIetfVal:
		var b bytes.Buffer
		if json.Compact(&b, t.JsonIetfVal) != nil {
			return t.JsonIetfVal
		}
		return b.Bytes()
	default:
		x = v.String()
	}
	b, _ := json.Marshal(x)
	return b
}
