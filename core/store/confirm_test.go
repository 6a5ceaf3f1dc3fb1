package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const confirmTimeout = 200 * time.Millisecond

// waitRevision waits on a subscription for a revision with origin.
func waitRevision(t *testing.T, ch <-chan RevisionInfo, origin string, timeout time.Duration) RevisionInfo {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case info := <-ch:
			if info.Origin == origin {
				return info
			}
		case <-deadline:
			t.Fatalf("no %s revision within %v", origin, timeout)
		}
	}
}

// confirmedCommit edits the candidate to hb v and commits it confirmed.
func confirmedCommit(t *testing.T, s *Store, v uint32, timeout time.Duration) RevisionInfo {
	t.Helper()
	if err := s.EditCandidate("nc", setHB(v)); err != nil {
		t.Fatal(err)
	}
	info, err := s.Commit(t.Context(), "nc", Meta{Author: "alice", Origin: OriginNETCONF}, CommitOptions{ConfirmTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestConfirmedCommitRollsBackAfterTimeout(t *testing.T) {
	t.Parallel()
	s := open(t, dbPath(t), Options{})
	commitHB(t, s, "cli", 300, Meta{}) // revision 2: the rollback target
	ch, cancel := s.Subscribe()
	defer cancel()

	start := time.Now()
	info := confirmedCommit(t, s, 400, confirmTimeout) // revision 3
	if !info.PendingConfirm || runningHB(s) != 400 {
		t.Fatalf("confirmed commit not running and pending: %+v", info)
	}
	if h := s.History(1)[0]; !h.PendingConfirm {
		t.Fatal("history does not show the pending revision")
	}
	rb := waitRevision(t, ch, OriginConfirmTimeout, 5*time.Second)
	if since := time.Since(start); since < confirmTimeout {
		t.Fatalf("rolled back after %v, before the %v timeout", since, confirmTimeout)
	}
	if rb.ID != 4 || rb.PendingConfirm || !strings.Contains(rb.Comment, "revision 3") || !strings.Contains(rb.Comment, "revision 2") {
		t.Fatalf("rollback revision %+v", rb)
	}
	if runningHB(s) != 300 || s.CandidateDirty() {
		t.Fatal("running (and the clean candidate) not restored")
	}
	if h := s.History(0); len(h) != 4 || h[1].PendingConfirm {
		t.Fatalf("history after rollback: %+v", h)
	}
	if err := s.Confirm("nc", Meta{}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("Confirm after timeout: %v", err)
	}
}

func TestConfirmStopsRollback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		confirm func(t *testing.T, s *Store)
	}{
		{"confirm", func(t *testing.T, s *Store) {
			if err := s.Confirm("other-session", Meta{Author: "bob"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"plain commit without changes", func(t *testing.T, s *Store) {
			info, err := s.Commit(t.Context(), "nc", Meta{}, CommitOptions{})
			if err != nil || info.ID != 2 || info.PendingConfirm {
				t.Fatalf("confirming commit = %+v, %v", info, err)
			}
		}},
		{"plain commit with changes", func(t *testing.T, s *Store) {
			commitHB(t, s, "nc", 500, Meta{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, dbPath(t), Options{})
			confirmedCommit(t, s, 400, confirmTimeout)
			tc.confirm(t, s)
			want := runningHB(s)
			if _, info := s.Running(); info.PendingConfirm {
				t.Fatal("still pending after confirmation")
			}
			time.Sleep(2 * confirmTimeout)
			if runningHB(s) != want || s.History(1)[0].Origin == OriginConfirmTimeout {
				t.Fatal("rolled back although confirmed")
			}
			if err := s.Confirm("nc", Meta{}); !errors.Is(err, ErrNotPending) {
				t.Fatalf("second Confirm: %v", err)
			}
		})
	}
}

func TestConfirmedCommitExtensionKeepsTarget(t *testing.T) {
	t.Parallel()
	s := open(t, dbPath(t), Options{})
	ch, cancel := s.Subscribe()
	defer cancel()
	commitHB(t, s, "cli", 300, Meta{})         // 2: the target
	confirmedCommit(t, s, 400, confirmTimeout) // 3
	time.Sleep(confirmTimeout / 2)
	second := confirmedCommit(t, s, 500, 5*confirmTimeout) // 4, extends
	if !second.PendingConfirm {
		t.Fatal("second confirmed commit not pending")
	}
	// An Update while pending neither confirms nor moves the target.
	if _, err := s.Update(t.Context(), "rest", Meta{Origin: OriginREST}, setHB(600)); err != nil { // 5
		t.Fatal(err)
	}
	time.Sleep(confirmTimeout) // past the first deadline
	if runningHB(s) != 600 {
		t.Fatal("rolled back at the first deadline although it was extended")
	}
	for _, h := range s.History(4) {
		if want := h.ID >= 3; h.PendingConfirm != want {
			t.Fatalf("revision %d PendingConfirm=%v", h.ID, h.PendingConfirm)
		}
	}
	rb := waitRevision(t, ch, OriginConfirmTimeout, 5*time.Second)
	if runningHB(s) != 300 || !strings.Contains(rb.Comment, "revision 4") || !strings.Contains(rb.Comment, "revision 2") {
		t.Fatalf("rollback to hb %d, %q; want revision 2's 300", runningHB(s), rb.Comment)
	}
}

func TestCancelConfirmed(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	if _, err := s.CancelConfirmed("nc", Meta{}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("cancel without pending: %v", err)
	}
	confirmedCommit(t, s, 400, time.Hour)
	if err := s.Lock(Running, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelConfirmed("nc", Meta{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("cancel under another's running lock: %v", err)
	}
	s.EndSession("admin")
	info, err := s.CancelConfirmed("nc", Meta{Author: "alice", Origin: OriginNETCONF})
	if err != nil || info.ID != 3 || info.Origin != OriginNETCONF || info.PendingConfirm || runningHB(s) != 0 {
		t.Fatalf("CancelConfirmed = %+v, %v (hb %d)", info, err, runningHB(s))
	}
}

func TestPendingConfirmSurvivesReopen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		timeout   time.Duration
		sleep     time.Duration // while closed
		expiredAt bool          // rolled back by Open itself
	}{
		{"deadline passed while closed", confirmTimeout, 2 * confirmTimeout, true},
		{"deadline after reopen", 5 * confirmTimeout, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := dbPath(t)
			s := open(t, path, Options{})
			commitHB(t, s, "cli", 300, Meta{})
			confirmedCommit(t, s, 400, tc.timeout)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(tc.sleep)
			s = open(t, path, Options{})
			if tc.expiredAt {
				if _, info := s.Running(); runningHB(s) != 300 || info.Origin != OriginConfirmTimeout || info.ID != 4 {
					t.Fatalf("Open did not roll back an expired confirmed commit: %+v", info)
				}
				return
			}
			if _, info := s.Running(); !info.PendingConfirm || runningHB(s) != 400 {
				t.Fatalf("pending state lost across Close/Open: %+v", info)
			}
			waitFor(t, 5*time.Second, "rollback after reopen", func() bool { return runningHB(s) == 300 })
			if _, info := s.Running(); info.Origin != OriginConfirmTimeout || info.PendingConfirm {
				t.Fatalf("rollback revision %+v", info)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, path, Options{})
			if _, info := s.Running(); info.ID != 4 || info.PendingConfirm {
				t.Fatalf("after a second reopen: %+v", info)
			}
		})
	}
}
