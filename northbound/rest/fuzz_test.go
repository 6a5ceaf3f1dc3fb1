package rest

import (
	"testing"

	"github.com/tandem-ha/tandem/northbound/rest/datatree"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
)

// FuzzYangPatch: no RFC 8072 body panics the patch decoder or the edits.
func FuzzYangPatch(f *testing.F) {
	s := &Server{schema: schema.Must()}
	f.Add("", `{"ietf-yang-patch:yang-patch": {"patch-id": "p", "edit": [{"edit-id": "1", "operation": "merge", "target": "/tandem-ha:ha/config", "value": {"tandem-ha:config": {"preempt": true}}}]}}`)
	f.Add("tandem-interfaces:interfaces", `{"ietf-yang-patch:yang-patch": {"patch-id": "p", "edit": [{"edit-id": "1", "operation": "insert", "where": "first", "target": "/interface=X1", "value": {"tandem-interfaces:interface": [{"name": "X1"}]}}, {"edit-id": "2", "operation": "delete", "target": "/interface=X1"}]}}`)
	f.Add("tandem-ha:ha", `{"ietf-yang-patch:yang-patch": {"patch-id": "p", "edit": [{"edit-id": "1", "operation": "remove", "target": "/config/mode"}]}}`)
	f.Fuzz(func(t *testing.T, base, body string) {
		v, err := datatree.Decode([]byte(body))
		if err != nil {
			return
		}
		_, edits, err := s.parsePatch(base, v)
		if err != nil {
			return
		}
		doc := datatree.Doc{"tandem-ha:ha": map[string]any{"config": map[string]any{"mode": "standalone"}}}
		for _, e := range edits {
			_ = s.apply(doc, e)
		}
	})
}
