package xmltree

import (
	"fmt"
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"github.com/tandem-ha/tandem/core/model"
)

// XPath turns a data path such as /interfaces/interface[name=X3]/config
// into the XPath NETCONF puts in <error-path>, with module prefixes:
// /if:interfaces/if:interface[if:name='X3']/if:config, and the prefix
// declarations it needs. A path that does not parse or leaves the schema
// is returned as far as it resolves, then unchanged.
func (s *Schema) XPath(path string) (string, map[string]string) {
	if path == "" || path == "/" {
		return path, nil
	}
	p, err := model.ParsePath(path)
	if err != nil {
		return path, nil
	}
	ns := map[string]string{}
	var b strings.Builder
	var cur *yang.Entry
	for i, el := range p.GetElem() {
		var e *yang.Entry
		if i == 0 {
			for _, m := range s.Modules() {
				if e = s.Top(m.Name, el.GetName()); e != nil {
					break
				}
			}
		} else if cur != nil {
			e = dataChild(cur, el.GetName())
		}
		if e == nil {
			return path, nil
		}
		m := s.moduleOf(e)
		ns[m.Prefix] = m.Namespace
		fmt.Fprintf(&b, "/%s:%s", m.Prefix, e.Name)
		keys := make([]string, 0, len(el.GetKey()))
		for k := range el.GetKey() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := el.GetKey()[k]
			q := "'"
			if strings.Contains(v, "'") {
				q = `"`
			}
			fmt.Fprintf(&b, "[%s:%s=%s%s%s]", m.Prefix, k, q, v, q)
		}
		cur = e
	}
	return b.String(), ns
}
