package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

func TestOpenCommitsInitialRevision(t *testing.T) {
	custom := model.Default()
	_ = setHB(700)(custom)
	for _, tc := range []struct {
		name    string
		initial *tandem.Device
		wantHB  uint32
	}{
		{"default", nil, 0},
		{"bootstrap", custom, 700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := dbPath(t)
			s := open(t, path, Options{Initial: tc.initial})
			run, info := s.Running()
			if info.ID != 1 || info.Origin != OriginInitial || info.Time.IsZero() || info.PendingConfirm {
				t.Fatalf("initial revision info = %+v", info)
			}
			want := tc.initial
			if want == nil {
				want = model.Default()
			}
			if !model.Equal(run, want) || hb(run) != tc.wantHB {
				t.Fatalf("running is not the initial configuration")
			}
			if s.CandidateDirty() || !model.Equal(s.Candidate(), run) {
				t.Fatal("candidate differs from running after Open")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// Reopening with another Initial keeps what is stored.
			other := model.Default()
			_ = setHB(900)(other)
			s = open(t, path, Options{Initial: other})
			if run2, info2 := s.Running(); info2.ID != 1 || !model.Equal(run2, want) || len(s.History(0)) != 1 {
				t.Fatalf("reopen changed running: %+v", info2)
			}
		})
	}
}

func TestOpenRefusesInvalidInitial(t *testing.T) {
	bad := model.Default()
	_ = setHB(5)(bad) // below the YANG range 10..60000
	if s, err := Open(dbPath(t), Options{Initial: bad, Logger: quiet}); err == nil {
		_ = s.Close()
		t.Fatal("Open accepted an initial configuration outside the schema")
	}
}

func TestCommitDiscardHistoryMetadata(t *testing.T) {
	path := dbPath(t)
	clock := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	v := &testValidator{}
	s := open(t, path, Options{Validate: v.validate, Now: now})

	if err := s.EditCandidate("a", setHB(300)); err != nil {
		t.Fatal(err)
	}
	if !s.CandidateDirty() || hb(s.Candidate()) != 300 || runningHB(s) != 0 {
		t.Fatal("edit must change the candidate only")
	}
	steps := []struct {
		hb   uint32
		meta Meta
		warn bool
	}{
		{300, Meta{Author: "alice", Comment: "faster heartbeats", Origin: OriginCLI}, false},
		{1500, Meta{Author: "bob", Comment: "slow link", Origin: OriginNETCONF}, true},
		{400, Meta{Author: "carol", Origin: OriginREST}, false},
	}
	for i, st := range steps {
		info := commitHB(t, s, "a", st.hb, st.meta)
		want := uint64(i + 2)
		if info.ID != want || info.Author != st.meta.Author || info.Comment != st.meta.Comment || info.Origin != st.meta.Origin {
			t.Fatalf("commit %d: info %+v", i, info)
		}
		if (len(info.Warnings) > 0) != st.warn {
			t.Fatalf("commit %d: warnings %q, want some: %v", i, info.Warnings, st.warn)
		}
		if s.CandidateDirty() || runningHB(s) != st.hb {
			t.Fatalf("commit %d: running %d, dirty %v", i, runningHB(s), s.CandidateDirty())
		}
	}
	h := s.History(0)
	if got := ids(h); !slices.Equal(got, []uint64{4, 3, 2, 1}) {
		t.Fatalf("history ids %v", got)
	}
	if !h[0].Time.After(h[1].Time) || h[1].Author != "bob" || h[1].Origin != OriginNETCONF || len(h[1].Warnings) != 1 || len(h[2].Warnings) != 0 {
		t.Fatalf("history metadata wrong: %+v", h)
	}
	if got := ids(s.History(2)); !slices.Equal(got, []uint64{4, 3}) {
		t.Fatalf("History(2) = %v", got)
	}
	d, info, err := s.Revision(3)
	if err != nil || hb(d) != 1500 || info.Author != "bob" || !info.Time.Equal(h[1].Time) {
		t.Fatalf("Revision(3) = %d %+v %v", hb(d), info, err)
	}
	if _, _, err := s.Revision(99); !errors.Is(err, ErrNoSuchRevision) {
		t.Fatalf("Revision(99) error %v", err)
	}

	// Discard drops edits; edits survive a restart until discarded.
	if err := s.EditCandidate("a", setHB(555)); err != nil {
		t.Fatal(err)
	}
	if err := s.Discard("a"); err != nil {
		t.Fatal(err)
	}
	if s.CandidateDirty() || hb(s.Candidate()) != 400 {
		t.Fatal("Discard did not restore the candidate")
	}
	if err := s.EditCandidate("a", setHB(666)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, Options{Validate: v.validate, Now: now})
	if !s.CandidateDirty() || hb(s.Candidate()) != 666 || runningHB(s) != 400 {
		t.Fatal("candidate or running not persisted across Close/Open")
	}
	if h2 := s.History(0); len(h2) != 4 || h2[1].Comment != "slow link" {
		t.Fatalf("history after reopen: %+v", h2)
	}
}

func TestEditCandidateErrorLeavesCandidate(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	if err := s.EditCandidate("a", setHB(300)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.EditCandidate("a", func(d *tandem.Device) error {
		_ = setHB(999)(d)
		return boom
	})
	if err != boom {
		t.Fatalf("fn error not returned unchanged: %v", err)
	}
	if hb(s.Candidate()) != 300 {
		t.Fatal("failed edit changed the candidate")
	}
	// Copies handed out are the caller's own.
	c := s.Candidate()
	_ = setHB(1)(c)
	if hb(s.Candidate()) != 300 {
		t.Fatal("Candidate returned shared state")
	}
	r, _ := s.Running()
	_ = setHB(1)(r)
	if runningHB(s) != 0 {
		t.Fatal("Running returned shared state")
	}
	if err := s.ReplaceCandidate("a", model.Default()); err != nil || s.CandidateDirty() {
		t.Fatalf("replacing with running's config must leave a clean candidate: %v", err)
	}
	if err := s.ReplaceCandidate("a", nil); err == nil {
		t.Fatal("ReplaceCandidate(nil) accepted")
	}
}

func TestNoOpCommitMakesNoRevision(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	commitHB(t, s, "a", 300, Meta{Origin: OriginCLI})
	for _, tc := range []struct {
		name string
		edit func(*tandem.Device) error
	}{
		{"no edit", nil},
		{"edit back to running", setHB(300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edit != nil {
				_ = s.EditCandidate("a", setHB(999))
				_ = s.EditCandidate("a", tc.edit)
			}
			if s.CandidateDirty() {
				t.Fatal("candidate equal to running reported dirty")
			}
			info, err := s.Commit(t.Context(), "a", Meta{Comment: "nothing"}, CommitOptions{})
			if err != nil || info.ID != 2 || info.Comment != "" {
				t.Fatalf("no-op commit = %+v, %v", info, err)
			}
			if n := len(s.History(0)); n != 2 {
				t.Fatalf("history has %d revisions, want 2", n)
			}
		})
	}
}

func TestValidationFailureChangesNothing(t *testing.T) {
	v := &testValidator{}
	s := open(t, dbPath(t), Options{Validate: v.validate})
	commitHB(t, s, "a", 300, Meta{})
	v.forbid.Store(777)
	before := s.History(0)

	ops := []struct {
		name string
		run  func() error
	}{
		{"commit", func() error {
			if err := s.EditCandidate("a", setHB(777)); err != nil {
				return err
			}
			_, err := s.Commit(t.Context(), "a", Meta{}, CommitOptions{})
			return err
		}},
		{"confirmed commit", func() error {
			_, err := s.Commit(t.Context(), "a", Meta{}, CommitOptions{ConfirmTimeout: time.Minute})
			return err
		}},
		{"update", func() error {
			_, err := s.Update(t.Context(), "b", Meta{}, setHB(777))
			return err
		}},
		{"schema", func() error {
			_, err := s.Update(t.Context(), "b", Meta{}, setHB(5)) // below the YANG range
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			err := op.run()
			if err == nil {
				t.Fatal("invalid configuration was committed")
			}
			var re *ruleError
			if op.name != "schema" && (!errors.As(err, &re) || re.Path != "/ha/config/heartbeat-interval") {
				t.Fatalf("validator error not reachable with errors.As: %v", err)
			}
			if runningHB(s) != 300 || !slices.EqualFunc(s.History(0), before, func(a, b RevisionInfo) bool { return a.ID == b.ID }) {
				t.Fatal("failed validation changed running or history")
			}
			if _, info := s.Running(); info.PendingConfirm {
				t.Fatal("failed confirmed commit left a pending state")
			}
		})
	}
	if hb(s.Candidate()) != 777 {
		t.Fatal("failed commit must keep the candidate's changes")
	}
}

func TestCommitHonoursContext(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	_ = s.EditCandidate("a", setHB(300))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Commit(ctx, "a", Meta{}, CommitOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("commit with cancelled context: %v", err)
	}
	if runningHB(s) != 0 {
		t.Fatal("cancelled commit changed running")
	}
}

func TestRollbackN(t *testing.T) {
	v := &testValidator{}
	s := open(t, dbPath(t), Options{Validate: v.validate})
	for _, h := range []uint32{300, 400, 500} { // revisions 2, 3, 4
		commitHB(t, s, "a", h, Meta{Origin: OriginCLI})
	}
	steps := []struct {
		name    string
		n       int
		wantHB  uint32
		wantID  uint64
		wantErr error
	}{
		{"previous", 1, 400, 5, nil},         // 5 = config of 4-1 = rev 3
		{"previous again", 1, 500, 6, nil},   // back to rev 4's config
		{"three back", 3, 400, 7, nil},       // 6,5,4,3 -> rev 3
		{"equal to running", 2, 400, 7, nil}, // rev 5 has 400 too: no new revision
		{"to initial", 6, 0, 8, nil},         // rev 1
		{"too far", 8, 0, 8, ErrNoSuchRevision},
		{"zero", 0, 0, 8, ErrNoSuchRevision},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			info, err := s.Rollback(t.Context(), "a", st.n, Meta{Author: "ops"})
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("Rollback(%d) error %v, want %v", st.n, err, st.wantErr)
			}
			_, run := s.Running()
			if runningHB(s) != st.wantHB || run.ID != st.wantID {
				t.Fatalf("after Rollback(%d): running hb %d id %d, want %d id %d", st.n, runningHB(s), run.ID, st.wantHB, st.wantID)
			}
			if err == nil && (info.ID != st.wantID || info.Origin != OriginRollback) {
				t.Fatalf("Rollback(%d) info %+v", st.n, info)
			}
		})
	}
	if h := s.History(1)[0]; h.Author != "ops" || !strings.Contains(h.Comment, "revision 1") {
		t.Fatalf("rollback metadata %+v", h)
	}
	// A rollback is validated like any commit.
	v.forbid.Store(500)
	if _, err := s.Rollback(t.Context(), "a", 2, Meta{}); err == nil {
		t.Fatal("rollback to a configuration that no longer validates succeeded")
	}
	if _, run := s.Running(); run.ID != 8 {
		t.Fatal("failed rollback changed running")
	}
}

func TestMaxRevisionsPrunesOldest(t *testing.T) {
	s := open(t, dbPath(t), Options{MaxRevisions: 5})
	for i := range 10 {
		commitHB(t, s, "a", uint32(100+i), Meta{})
	}
	if got := ids(s.History(0)); !slices.Equal(got, []uint64{11, 10, 9, 8, 7}) {
		t.Fatalf("history after pruning %v", got)
	}
	if _, _, err := s.Revision(6); !errors.Is(err, ErrNoSuchRevision) {
		t.Fatalf("pruned revision still readable: %v", err)
	}
	if _, err := s.Rollback(t.Context(), "a", 5, Meta{}); !errors.Is(err, ErrNoSuchRevision) {
		t.Fatalf("rollback past pruned history: %v", err)
	}
	// A pending rollback target is never pruned.
	_ = s.EditCandidate("a", setHB(900))
	if _, err := s.Commit(t.Context(), "a", Meta{}, CommitOptions{ConfirmTimeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if _, err := s.Update(t.Context(), "b", Meta{}, setHB(uint32(2000+i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Revision(11); err != nil {
		t.Fatalf("rollback target 11 was pruned: %v", err)
	}
	info, err := s.CancelConfirmed("a", Meta{})
	if err != nil || runningHB(s) != 109 || info.PendingConfirm {
		t.Fatalf("cancel after pruning: hb %d, %+v, %v", runningHB(s), info, err)
	}
}

func TestSubscribeLatestWins(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	ch, cancel := s.Subscribe()
	ch2, cancel2 := s.Subscribe()
	defer cancel2()
	for i := range 5 {
		commitHB(t, s, "a", uint32(300+i), Meta{}) // never blocks on unread channels
	}
	select {
	case info := <-ch:
		if info.ID != 6 {
			t.Fatalf("subscriber got revision %d, want the latest 6", info.ID)
		}
	default:
		t.Fatal("no value after commits")
	}
	select {
	case info := <-ch:
		t.Fatalf("extra value %+v", info)
	default:
	}
	cancel()
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after cancel")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-ch2 // the value of revision 6
	if _, ok := <-ch2; ok {
		t.Fatal("channel open after Close")
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.EditCandidate("a", setHB(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("edit after Close: %v", err)
	}
}
