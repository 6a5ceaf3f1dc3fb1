package channel

import (
	"slices"
	"testing"
)

// Of several records with one key a Sink applies only the last, and the
// rest in batch order with their index; stopping early stops.
func TestLatest(t *testing.T) {
	recs := []Record{
		{Op: Upsert, Key: []byte("a"), Value: []byte("1")},
		{Op: Upsert, Key: []byte("b"), Value: []byte("1")},
		{Op: Delete, Key: []byte("a")},
		{Op: Upsert, Key: []byte("c"), Value: []byte("1")},
		{Op: Upsert, Key: []byte("b"), Value: []byte("2")},
	}
	var got []int
	for i, r := range Latest(recs) {
		if string(r.Key) != string(recs[i].Key) || r.Op != recs[i].Op {
			t.Fatalf("index %d yielded with record %+v", i, r)
		}
		got = append(got, i)
	}
	if want := []int{2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("applied records %v, want %v", got, want)
	}
	n := 0
	for range Latest(recs) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("kept yielding after a break: %d", n)
	}
	for range Latest(nil) {
		t.Error("an empty batch yielded a record")
	}
}
