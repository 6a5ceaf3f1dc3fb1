package model

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ytypes"

	"github.com/tandem-ha/tandem/gen/tandem"
)

// PathError is a schema violation at one node of a configuration, named by
// its path with list keys (/interfaces/interface[name=X1]/config/zone).
type PathError struct {
	Path string
	Msg  string
}

// Error renders "path: message".
func (e *PathError) Error() string { return e.Path + ": " + e.Msg }

// typeExamples says what a value of a tandem or IETF type looks like, for
// the messages of values that do not match the type's pattern.
var typeExamples = map[string]string{
	"port-name":        "a port such as X0 or X12",
	"serial-number":    "4 to 32 letters, digits or dashes",
	"ipv4-prefix-host": "an IPv4 address with prefix length such as 192.0.2.1/24",
	"ipv6-prefix-host": "an IPv6 address with prefix length such as 2001:db8::1/64",
	"ipv4-address":     "an IPv4 address such as 192.0.2.1",
	"ipv6-address":     "an IPv6 address such as 2001:db8::1",
	"ip-prefix":        "a prefix such as 192.0.2.0/24 or 2001:db8::/32",
	"mac-address":      "a MAC address such as 02:00:5e:00:53:01",
}

// leafErrors checks every configured leaf against its YANG type (ranges,
// lengths, patterns, enumerations) and names each bad leaf by its keyed
// path, one error per leaf.
func leafErrors(d *tandem.Device) []error {
	var errs []error
	walkPlanned(d, func(v reflect.Value, path string, p *prunePlan) {
		for _, lf := range p.leaves {
			f := v.Field(lf.index)
			if f.IsZero() {
				continue
			}
			if bad := ytypes.Validate(lf.schema, f.Interface()); len(bad) > 0 {
				errs = append(errs, &PathError{Path: path + "/" + lf.schema.Name, Msg: leafMessage(lf.schema, f, bad[0])})
			}
		}
	})
	return errs
}

// leafMessage says what is wrong with a leaf value in words: the allowed
// range with its units, or the shape the type expects.
func leafMessage(e *yang.Entry, v reflect.Value, err error) string {
	val := leafString(v)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.String {
		val = fmt.Sprintf("%q", val)
	}
	if v.Kind() == reflect.Slice {
		val = fmt.Sprint(v.Interface())
		for i := 0; i < v.Len(); i++ { // name the first bad element
			one := reflect.MakeSlice(v.Type(), 1, 1)
			one.Index(0).Set(v.Index(i))
			if ytypes.Validate(e, one.Interface()) != nil {
				val = fmt.Sprintf("%q", fmt.Sprint(v.Index(i).Interface()))
				break
			}
		}
	}
	t := e.Type
	units := ""
	if e.Units != "" {
		units = " " + e.Units
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "outside specified ranges") && len(t.Range) > 0:
		return fmt.Sprintf("%s is out of range: allowed %s%s", val, t.Range, units)
	case strings.Contains(msg, "length") && len(t.Length) > 0:
		return fmt.Sprintf("%s has the wrong length: allowed %s characters", val, t.Length)
	case strings.Contains(msg, "does not match regular expression"):
		if ex, ok := typeExamples[t.Name]; ok {
			return fmt.Sprintf("%s is not %s", val, ex)
		}
		return fmt.Sprintf("%s does not have the form of type %s", val, t.Name)
	}
	return fmt.Sprintf("%s: %s", val, strings.TrimPrefix(msg, fmt.Sprintf("schema %q: ", e.Name)))
}

// isLeafError reports whether a ygot validation error is about a leaf or
// leaf-list, which leafErrors reports better: its deepest path resolves to
// a leaf in the schema.
func isLeafError(err error) bool {
	path := ""
	for _, part := range strings.Split(err.Error(), ": ") {
		if !strings.HasPrefix(part, "/") || strings.ContainsAny(part, " \"") {
			break
		}
		path = part
	}
	e := Root()
	for _, name := range strings.Split(strings.TrimPrefix(path, "/device"), "/") {
		if name == "" {
			continue
		}
		if e = e.Dir[name]; e == nil {
			return false
		}
	}
	return path != "" && (e.IsLeaf() || e.IsLeafList())
}
