package expect

import "testing"

// BenchmarkEncodeDecode measures the codec of an FTP expectation with
// NAT: the active encodes it, the standby decodes it.
func BenchmarkEncodeDecode(b *testing.B) {
	x := codecCases()["ftp pasv nat"]
	var n int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := UpsertRecord(&x)
		if _, err := Decode(r.Key, r.Value); err != nil {
			b.Fatal(err)
		}
		n = len(r.Key) + len(r.Value)
	}
	b.ReportMetric(float64(n), "bytes/record")
}
