package model

import (
	"encoding/json"
	"fmt"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// ParsePath parses a path such as /ha/config/mode or
// /interfaces/interface[name=X1]/config/enabled. Module prefixes on
// elements (tandem-ha:ha) are accepted and dropped.
func ParsePath(s string) (*gpb.Path, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("path %q must start with /", s)
	}
	p, err := ygot.StringToStructuredPath(s)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", s, err)
	}
	for _, e := range p.GetElem() {
		if i := strings.IndexByte(e.Name, ':'); i >= 0 {
			e.Name = e.Name[i+1:]
		}
	}
	return p, nil
}

// Set sets the node at path to value, given as RFC 7951 JSON (a leaf's
// value such as "active-standby", 200 or true, or an object for a
// container or list entry). Missing parents and list entries are created.
func Set(d *tandem.Device, path string, value []byte) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	if !json.Valid(value) {
		return fmt.Errorf("%s: value %q is not JSON; quote strings", path, value)
	}
	tv := &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: value}}
	if err := ytypes.SetNode(Root(), d, p, tv, &ytypes.InitMissingElements{}); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	Normalize(d)
	return nil
}

// Delete removes the node at path and everything under it.
func Delete(d *tandem.Device, path string) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	if err := ytypes.DeleteNode(Root(), d, p); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
