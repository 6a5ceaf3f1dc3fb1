package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-ha/tandem/gen/tandem"
)

func TestUpdateIsAtomicAndLeavesChangedCandidate(t *testing.T) {
	v := &testValidator{}
	s := open(t, dbPath(t), Options{Validate: v.validate})

	// Clean candidate: it keeps following running.
	info, err := s.Update(t.Context(), "rest-1", Meta{Author: "api", Origin: OriginREST}, setHB(300))
	if err != nil || info.ID != 2 || info.Origin != OriginREST {
		t.Fatalf("Update = %+v, %v", info, err)
	}
	if s.CandidateDirty() || hb(s.Candidate()) != 300 {
		t.Fatal("clean candidate did not follow running")
	}

	// Changed candidate: untouched by Update.
	if err := s.EditCandidate("cli", func(d *tandem.Device) error {
		d.GetOrCreateHa().GetOrCreateConfig().ElectionDelay = ptr(uint16(30))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(t.Context(), "rest-1", Meta{}, setHB(400)); err != nil {
		t.Fatal(err)
	}
	c := s.Candidate()
	if hb(c) != 300 || c.Ha.Config.ElectionDelay == nil || !s.CandidateDirty() || runningHB(s) != 400 {
		t.Fatal("Update touched a changed candidate")
	}

	// fn error and validation failure change nothing.
	boom := errors.New("boom")
	if _, err := s.Update(t.Context(), "rest-1", Meta{}, func(d *tandem.Device) error { _ = setHB(1)(d); return boom }); err != boom {
		t.Fatalf("fn error not returned unchanged: %v", err)
	}
	v.forbid.Store(888)
	if _, err := s.Update(t.Context(), "rest-1", Meta{}, setHB(888)); err == nil {
		t.Fatal("invalid update committed")
	}
	// No change: no revision.
	info, err = s.Update(t.Context(), "rest-1", Meta{}, setHB(400))
	if err != nil || info.ID != 3 || runningHB(s) != 400 || len(s.History(0)) != 3 {
		t.Fatalf("no-op update made a revision: %+v %v", info, err)
	}
}

func TestLocksRefuseOtherSessions(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	commitHB(t, s, "x", 300, Meta{}) // revision 2, so rollback 1 exists
	ops := map[string]func(session string) error{
		"edit":    func(ss string) error { return s.EditCandidate(ss, setHB(301)) },
		"replace": func(ss string) error { return s.ReplaceCandidate(ss, s.Candidate()) },
		"discard": func(ss string) error { return s.Discard(ss) },
		"commit": func(ss string) error {
			_, err := s.Commit(t.Context(), ss, Meta{}, CommitOptions{})
			return err
		},
		"update": func(ss string) error {
			_, err := s.Update(t.Context(), ss, Meta{}, setHB(302))
			return err
		},
		"rollback": func(ss string) error {
			_, err := s.Rollback(t.Context(), ss, 1, Meta{})
			return err
		},
	}
	for _, tc := range []struct {
		ds      Datastore
		refused []string
		allowed []string
	}{
		{Candidate, []string{"edit", "replace", "discard", "commit"}, []string{"update", "rollback"}},
		{Running, []string{"commit", "update", "rollback"}, []string{"edit", "replace", "discard"}},
	} {
		t.Run(tc.ds.String(), func(t *testing.T) {
			if err := s.Lock(tc.ds, "alice"); err != nil {
				t.Fatal(err)
			}
			if err := s.Lock(tc.ds, "alice"); err != nil {
				t.Fatalf("relock by holder: %v", err)
			}
			var le *LockedError
			if err := s.Lock(tc.ds, "bob"); !errors.As(err, &le) || le.Holder != "alice" || le.Datastore != tc.ds {
				t.Fatalf("second Lock: %v", err)
			}
			for _, name := range tc.refused {
				err := ops[name]("bob")
				if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Holder != "alice" || !strings.Contains(err.Error(), `"alice"`) {
					t.Errorf("%s by bob under %s lock: %v", name, tc.ds, err)
				}
				if err := ops[name]("alice"); err != nil {
					t.Errorf("%s by the holder: %v", name, err)
				}
			}
			for _, name := range tc.allowed {
				if err := ops[name]("bob"); err != nil {
					t.Errorf("%s by bob under %s lock: %v", name, tc.ds, err)
				}
			}
			if err := s.Unlock(tc.ds, "bob"); !errors.As(err, &le) {
				t.Fatalf("unlock by non-holder: %v", err)
			}
			if err := s.Unlock(tc.ds, "alice"); err != nil {
				t.Fatal(err)
			}
			if err := s.Unlock(tc.ds, "alice"); !errors.Is(err, ErrNotLocked) {
				t.Fatalf("unlock twice: %v", err)
			}
			if err := s.Discard("x"); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := s.Lock(Running, ""); err == nil {
		t.Fatal("lock without a session accepted")
	}
	if err := s.Lock(Datastore(7), "a"); err == nil {
		t.Fatal("lock of an unknown datastore accepted")
	}
}

func TestEndSessionReleasesLocksAndDiscards(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	for _, ds := range []Datastore{Running, Candidate} {
		if err := s.Lock(ds, "nc-1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EditCandidate("nc-1", setHB(300)); err != nil {
		t.Fatal(err)
	}
	// Another session cannot lock a candidate changed by nc-1.
	s.EndSession("nc-2")
	if err := s.Lock(Candidate, "nc-2"); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock held by nc-1: %v", err)
	}
	s.EndSession("nc-1")
	if s.CandidateDirty() {
		t.Fatal("EndSession of the candidate lock holder kept its changes")
	}
	for _, ds := range []Datastore{Running, Candidate} {
		if err := s.Lock(ds, "nc-2"); err != nil {
			t.Fatalf("lock after EndSession: %v", err)
		}
	}
	s.EndSession("nc-2")

	// Without the lock, a session's changes stay after it ends, and
	// nobody else can lock the candidate until they are committed or
	// discarded.
	if err := s.EditCandidate("cli-1", setHB(400)); err != nil {
		t.Fatal(err)
	}
	s.EndSession("cli-1")
	if !s.CandidateDirty() {
		t.Fatal("shared candidate discarded without a lock")
	}
	if err := s.Lock(Candidate, "nc-3"); !errors.Is(err, ErrCandidateModified) || !strings.Contains(err.Error(), "cli-1") {
		t.Fatalf("lock of a candidate changed by another session: %v", err)
	}
	if err := s.Lock(Candidate, "cli-1"); err != nil {
		t.Fatalf("the editor may lock its own changes: %v", err)
	}
}

func TestConcurrentCommittersSerialize(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	const workers, each = 8, 5
	errs := make(chan error, workers*each*3)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			session := fmt.Sprintf("w%d", w)
			for range each {
				// Read-modify-write inside Update: a lost update would
				// show as a final count below workers*each.
				_, err := s.Update(t.Context(), session, Meta{Author: session}, func(d *tandem.Device) error {
					c := d.GetOrCreateSystem().GetOrCreateConfig()
					n := uint32(100)
					if c.EventLogSize != nil {
						n = *c.EventLogSize
					}
					c.EventLogSize = ptr(n + 1)
					return nil
				})
				if err != nil {
					errs <- err
				}
				_, _ = s.Running()
				_ = s.History(3)
			}
		})
	}
	wg.Wait()
	run, _ := s.Running()
	if got := *run.System.Config.EventLogSize; got != 100+workers*each {
		t.Fatalf("event-log-size %d after %d increments: updates were lost", got, workers*each)
	}

	// The shared candidate: edits accumulate, and since every edit is
	// followed by its worker's commit, the final running holds every
	// worker's last edit.
	for w := range workers {
		wg.Go(func() {
			session := fmt.Sprintf("w%d", w)
			name := fmt.Sprintf("X%d", w)
			for i := range each {
				err := s.EditCandidate(session, func(d *tandem.Device) error {
					d.GetOrCreateInterfaces().GetOrCreateInterface(name).GetOrCreateConfig().Description = ptr(fmt.Sprintf("%s-%d", session, i))
					return nil
				})
				if err != nil {
					errs <- err
				}
				if _, err := s.Commit(t.Context(), session, Meta{Author: session}, CommitOptions{}); err != nil {
					errs <- err
				}
				_ = s.Candidate()
				_ = s.CandidateDirty()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	run, info := s.Running()
	for w := range workers {
		want := fmt.Sprintf("w%d-%d", w, each-1)
		if got := run.Interfaces.Interface[fmt.Sprintf("X%d", w)].Config.GetDescription(); got != want {
			t.Errorf("interface X%d description %q, want %q", w, got, want)
		}
	}
	h := s.History(0)
	if uint64(len(h)) != info.ID || h[0].ID != info.ID {
		t.Fatalf("history has %d revisions, newest %d, running is %d", len(h), h[0].ID, info.ID)
	}
	for i := 1; i < len(h); i++ {
		if h[i-1].ID != h[i].ID+1 || h[i-1].Time.Before(h[i].Time) {
			t.Fatalf("history out of order at %d: %v", i, ids(h))
		}
	}
}
