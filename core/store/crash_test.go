package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

const (
	crashEnv    = "TANDEM_STORE_CRASH_DB"
	crashIfaces = 12
	crashMaxRev = 16
)

// noValidation keeps the child fast: validation is not under test here.
func noValidation(*tandem.Device) ([]string, error) { return nil, nil }

// genConfig is a configuration in which every field the test sets
// carries generation n.
func genConfig(n int) *tandem.Device {
	d := model.Default()
	for i := range crashIfaces {
		c := d.GetOrCreateInterfaces().GetOrCreateInterface(fmt.Sprintf("X%d", i)).GetOrCreateConfig()
		c.Description = ptr(fmt.Sprintf("gen-%d", n))
	}
	d.GetOrCreateHa().GetOrCreateConfig().HeartbeatInterval = ptr(uint32(n + 50))
	d.GetOrCreateSystem().GetOrCreateConfig().EventLogSize = ptr(uint32(n + 100))
	return d
}

// generation returns the generation every field of d carries, 0 for the
// default configuration, or an error when the fields disagree.
func generation(d *tandem.Device) (int, error) {
	c, err := canonical(d)
	if err != nil {
		return 0, err
	}
	return generationOf(c.json)
}

// generationOf finds the generation of a canonical configuration: its
// first interface's description names a candidate n, and the whole
// configuration must then be byte for byte genConfig(n)'s.
func generationOf(canon []byte) (int, error) {
	n, err := parseGeneration(canon)
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(canon, genJSON(n)) {
		return 0, fmt.Errorf("configuration is not exactly generation %d: %s", n, canon)
	}
	return n, nil
}

// parseGeneration reads the generation from the first description in a
// canonical configuration (0 without one) without checking the rest.
func parseGeneration(canon []byte) (int, error) {
	_, rest, ok := bytes.Cut(canon, []byte(`"description":"gen-`))
	if !ok {
		return 0, nil
	}
	end := bytes.IndexByte(rest, '"')
	n, err := strconv.Atoi(string(rest[:max(end, 0)]))
	if err != nil {
		return 0, fmt.Errorf("bad generation in %s", canon)
	}
	return n, nil
}

var genCache sync.Map // int -> canonical JSON of genConfig(n)

// genJSON is the canonical JSON of generation n (0: the default).
func genJSON(n int) []byte {
	if b, ok := genCache.Load(n); ok {
		return b.([]byte)
	}
	d := model.Default()
	if n > 0 {
		d = genConfig(n)
	}
	c, err := canonical(d)
	if err != nil {
		panic(err)
	}
	genCache.Store(n, c.json)
	return c.json
}

// TestCrashChild is the process TestCommitSurvivesKill9 kills: it commits
// generation after generation (alternating candidate commits and
// Update) and reports each one once Commit has returned.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only runs as the child of TestCommitSurvivesKill9")
	}
	s, err := Open(path, Options{MaxRevisions: crashMaxRev, Logger: quiet, Validate: noValidation})
	if err != nil {
		fmt.Printf("open failed: %v\n", err)
		os.Exit(3)
	}
	g, err := parseGeneration(s.running.json) // the parent checks the rest
	if err != nil {
		fmt.Printf("inconsistent running: %v\n", err)
		os.Exit(3)
	}
	fmt.Printf("ready %d\n", g)
	for g++; ; g++ {
		if g%2 == 0 {
			if err := s.ReplaceCandidate("child", genConfig(g)); err != nil {
				fmt.Printf("replace failed: %v\n", err)
				os.Exit(3)
			}
			_, err = s.Commit(t.Context(), "child", Meta{Author: "child", Comment: fmt.Sprintf("gen %d", g), Origin: OriginCLI}, CommitOptions{})
		} else {
			_, err = s.Update(t.Context(), "child", Meta{Author: "child", Comment: fmt.Sprintf("gen %d", g), Origin: OriginREST}, func(d *tandem.Device) error {
				*d = *genConfig(g)
				return nil
			})
		}
		if err != nil {
			fmt.Printf("commit failed: %v\n", err)
			os.Exit(3)
		}
		fmt.Printf("committed %d\n", g)
	}
}

// TestCommitSurvivesKill9 SIGKILLs a committing child process at random
// moments and checks after each kill that the running configuration is
// one whole generation, matches its stored revision record, and is the
// last generation the child reported (or the one it committed but could
// not report).
func TestCommitSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped in -short")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	const rounds = 20
	last, total, killedBeforeReady, ahead := 0, 0, 0, 0
	var startup, check time.Duration
	for round := range rounds {
		t0 := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		reported := last
		handle := func(line string) {
			switch {
			case strings.HasPrefix(line, "committed "):
				n, _ := strconv.Atoi(strings.TrimPrefix(line, "committed "))
				if n != reported+1 {
					t.Errorf("round %d: child reported %d after %d", round, n, reported)
				}
				reported = n
				total++
			case strings.HasPrefix(line, "ready "):
				if n, _ := strconv.Atoi(strings.TrimPrefix(line, "ready ")); n != last {
					t.Errorf("round %d: child started from generation %d, want %d", round, n, last)
				}
			case strings.HasPrefix(line, "=== RUN"), line == "":
			default:
				t.Errorf("round %d: child: %s", round, line)
			}
		}
		// Every fourth round kills at a random moment of start-up and
		// Open; the others once the child has reported 0 to 3 commits,
		// at a random moment of the next one.
		if round%4 == 3 {
			killedBeforeReady++
			time.Sleep(time.Duration(rng.IntN(200_000)) * time.Microsecond)
		} else {
			commits := rng.IntN(4)
			for seen := -1; seen < commits; {
				line, ok := <-lines
				if !ok {
					break
				}
				handle(line)
				if strings.HasPrefix(line, "ready ") || strings.HasPrefix(line, "committed ") {
					seen++
				}
			}
			startup += time.Since(t0)
			time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
		}
		_ = cmd.Process.Kill() // SIGKILL
		for line := range lines {
			handle(line)
		}
		_ = cmd.Wait()

		t1 := time.Now()
		s, err := Open(path, Options{MaxRevisions: crashMaxRev, Logger: quiet, Validate: noValidation})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		run, info := s.Running()
		g, err := generation(run)
		if err != nil {
			_ = s.Close()
			t.Fatalf("round %d: running revision %d is torn: %v", round, info.ID, err)
		}
		if g == reported+1 {
			ahead++
		}
		if g < reported || g > reported+1 {
			t.Errorf("round %d: running generation %d, child last reported %d", round, g, reported)
		}
		// The running revision's stored record decodes and holds exactly
		// the running configuration.
		if _, rinfo, err := s.Revision(info.ID); err != nil || rinfo.ID != info.ID || rinfo.Comment != info.Comment {
			t.Errorf("round %d: revision record %d: %+v %v", round, info.ID, rinfo, err)
		}
		var stored json.RawMessage
		_ = s.db.View(func(tx *bolt.Tx) error {
			_, stored, err = decodeRecordInfo(tx.Bucket(bucketRevisions).Get(itob(info.ID)))
			return nil
		})
		if err != nil || !bytes.Equal(stored, genJSON(g)) {
			t.Errorf("round %d: record %d holds %s, want generation %d", round, info.ID, stored, g)
		}
		// The candidate is running's generation or, when the kill came
		// between ReplaceCandidate and Commit, the next one.
		if cg, err := generationOf(s.candidate.json); err != nil || (cg != g && cg != g+1) {
			t.Errorf("round %d: candidate generation %d (%v), running %d", round, cg, err, g)
		}
		h := s.History(0)
		if len(h) == 0 || len(h) > crashMaxRev || h[0].ID != info.ID {
			t.Errorf("round %d: history %v, running %d", round, ids(h), info.ID)
		}
		for i := 1; i < len(h); i++ {
			if h[i-1].ID != h[i].ID+1 {
				t.Errorf("round %d: history has a gap: %v", round, ids(h))
				break
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		last = g
		check += time.Since(t1)
	}
	t.Logf("child run before the kill %v per round, parent check %v per round", startup/time.Duration(rounds-killedBeforeReady), check/rounds)
	t.Logf("%d rounds (%d killed during start-up), %d commits reported, %d kills after a commit was durable but before it was reported, final generation %d",
		rounds, killedBeforeReady, total, ahead, last)
	if total == 0 {
		t.Error("the child never committed")
	}
}
