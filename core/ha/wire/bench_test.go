package wire

import "testing"

func BenchmarkSealOpen(b *testing.B) {
	k := mustKey(b, string(testPSK))
	for _, c := range []struct {
		name    string
		encrypt bool
	}{{"plain", false}, {"encrypted", true}} {
		b.Run(c.name, func(b *testing.B) {
			m := sample()
			b.ReportAllocs()
			for b.Loop() {
				m.Seq++
				w, err := Seal(k, m, c.encrypt)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Open(k, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReplayWindowAccept(b *testing.B) {
	var w ReplayWindow
	var seq uint64
	for b.Loop() {
		seq += 3
		_ = w.Accept(1, seq)
		_ = w.Accept(1, seq-1)
	}
}
