package store

import "testing"

// BenchmarkUpdate measures one validated, durable one-shot write.
func BenchmarkUpdate(b *testing.B) {
	s := open(b, dbPath(b), Options{})
	i := uint32(0)
	for b.Loop() {
		i++
		if _, err := s.Update(b.Context(), "b", Meta{}, setHB(100+i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}
