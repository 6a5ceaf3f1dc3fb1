package validate

import (
	"testing"
)

func TestFullConfigsPassClean(t *testing.T) {
	for name, kvs := range map[string][]kv{
		"default (standalone)": nil,
		"active-standby lab":   pairConfig,
		"sm-9600 4-node 4-VG":  clusterConfig(),
	} {
		t.Run(name, func(t *testing.T) {
			r := Validate(build(t, kvs))
			if len(r.Errors) > 0 || len(r.Warnings) > 0 {
				t.Fatalf("errors:%s\nwarnings:%s", dump(r.Errors), dump(r.Warnings))
			}
		})
	}
}
