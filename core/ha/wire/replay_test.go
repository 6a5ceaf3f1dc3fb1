package wire

import (
	"errors"
	"fmt"
	"testing"
)

type step struct {
	epoch uint32
	seq   uint64
	want  error // nil: accepted
}

func TestReplayWindow(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"first message any sequence", []step{{7, 1000, nil}}},
		{"in order", []step{{1, 1, nil}, {1, 2, nil}, {1, 3, nil}}},
		{"duplicate", []step{{1, 1, nil}, {1, 1, ErrDuplicate}}},
		{"duplicate of highest after gap", []step{{1, 5, nil}, {1, 9, nil}, {1, 9, ErrDuplicate}, {1, 5, ErrDuplicate}}},
		{"out of order within window", []step{{1, 10, nil}, {1, 8, nil}, {1, 9, nil}, {1, 7, nil}, {1, 8, ErrDuplicate}, {1, 11, nil}}},
		{"bottom edge of window", []step{{1, 200, nil}, {1, 200 - WindowSize + 1, nil}, {1, 200 - WindowSize, ErrTooOld}}},
		{"too old", []step{{1, 500, nil}, {1, 1, ErrTooOld}}},
		{"jump beyond window forgets", []step{{1, 1, nil}, {1, 2, nil}, {1, 1000, nil}, {1, 999, nil}, {1, 2, ErrTooOld}}},
		{"bit across word boundary", []step{{1, 100, nil}, {1, 30, nil}, {1, 130, nil}, {1, 30, ErrDuplicate}, {1, 100, ErrDuplicate}, {1, 31, nil}}},
		{"shift by exactly 64", []step{{1, 10, nil}, {1, 74, nil}, {1, 10, ErrDuplicate}, {1, 11, nil}, {1, 138, nil}, {1, 10, ErrTooOld}, {1, 11, ErrDuplicate}, {1, 12, nil}}},
		{"new epoch resets", []step{{1, 500, nil}, {2, 1, nil}, {2, 2, nil}, {2, 1, ErrDuplicate}}},
		{"new epoch reset, old sequence reusable", []step{{1, 5, nil}, {2, 5, nil}, {2, 5, ErrDuplicate}}},
		{"old epoch refused", []step{{5, 1, nil}, {4, 1000, ErrStaleEpoch}, {5, 2, nil}}},
		{"old epoch after reset refused", []step{{1, 9, nil}, {2, 1, nil}, {1, 10, ErrStaleEpoch}}},
		{"max sequence", []step{{1, ^uint64(0), nil}, {1, ^uint64(0), ErrDuplicate}, {1, ^uint64(0) - 1, nil}}},
		{"sequence zero", []step{{1, 0, nil}, {1, 0, ErrDuplicate}, {1, 1, nil}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w ReplayWindow
			for i, s := range c.steps {
				before := w
				cerr := w.Check(s.epoch, s.seq)
				if w != before {
					t.Fatalf("step %d: Check changed the window", i)
				}
				err := w.Accept(s.epoch, s.seq)
				if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
					t.Fatalf("step %d: Accept(%d, %d) = %v, want %v", i, s.epoch, s.seq, err, s.want)
				}
				if (cerr == nil) != (err == nil) {
					t.Fatalf("step %d: Check = %v but Accept = %v", i, cerr, err)
				}
				if err != nil {
					if !errors.Is(err, ErrReplay) {
						t.Fatalf("step %d: %v does not wrap ErrReplay", i, err)
					}
					if w != before {
						t.Fatalf("step %d: refused message changed the window", i)
					}
				}
			}
		})
	}
}

// TestReplayWindowAgainstModel compares the bitmap with a map-based model over a pseudo-random
// walk of sequence numbers around the window edges.
func TestReplayWindowAgainstModel(t *testing.T) {
	var w ReplayWindow
	seen := map[uint64]bool{}
	var top uint64
	x := uint64(0x9e3779b97f4a7c15)
	for i := range 20000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var seq uint64
		switch x % 4 {
		case 0:
			seq = top + 1 + x>>60 // a little ahead
		case 1:
			seq = top + x>>57 // up to 127 ahead
		default:
			seq = top - min(top, (x>>32)%(WindowSize+8)) // around the bottom edge
		}
		var want error
		switch {
		case i > 0 && seq+WindowSize <= top:
			want = ErrTooOld
		case seen[seq]:
			want = ErrDuplicate
		}
		err := w.Accept(1, seq)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("iteration %d: Accept(%d) with top %d = %v, want %v", i, seq, top, err, want)
		}
		if err == nil {
			seen[seq] = true
			top = max(top, seq)
		}
	}
	if w.Highest() != top {
		t.Fatalf("Highest = %d, want %d", w.Highest(), top)
	}
	if e, ok := w.Epoch(); e != 1 || !ok {
		t.Fatalf("Epoch = %d, %v", e, ok)
	}
	w.Reset()
	if _, ok := w.Epoch(); ok {
		t.Fatal("Reset kept the epoch")
	}
}

func ExampleReplayWindow() {
	var w ReplayWindow
	fmt.Println(w.Accept(3, 10))
	fmt.Println(w.Accept(3, 9))
	fmt.Println(errors.Is(w.Accept(3, 10), ErrReplay))
	fmt.Println(errors.Is(w.Accept(2, 99), ErrStaleEpoch))
	fmt.Println(w.Accept(4, 1)) // the peer rebooted
	// Output:
	// <nil>
	// <nil>
	// true
	// true
	// <nil>
}
