package telemetry

import "testing"

func BenchmarkUpdate(b *testing.B) {
	tr := NewTree("unit-a")
	for i := 0; b.Loop(); i++ {
		if err := tr.Update("/system/plugins/plugin[name=lab]/state/restarts", i); err != nil {
			b.Fatal(err)
		}
	}
}
