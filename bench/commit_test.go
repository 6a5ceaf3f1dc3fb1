package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// The fixture must be valid, or the benchmarks measure a refusal.
func TestClusterFixtureIsValid(t *testing.T) {
	rep := validate.Validate(clusterConfig(t, 16))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) > 0 {
		t.Errorf("warnings: %v", rep.Warnings)
	}
}

// BenchmarkValidate4VG16If measures validation (YANG + SPEC rules) of a
// 4-node, 4-virtual-group cluster configuration with 16 interfaces.
func BenchmarkValidate4VG16If(b *testing.B) {
	d := clusterConfig(b, 16)
	b.ResetTimer()
	for b.Loop() {
		if err := validate.Validate(d).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit4VG16If measures a commit of that configuration with one
// leaf changed: candidate edit, validation, encoding, one fsynced bbolt
// transaction and the notification of subscribers.
func BenchmarkCommit4VG16If(b *testing.B) { benchmarkCommit(b, clusterConfig(b, 16)) }

// BenchmarkCommitSmall is the same for a one-interface standalone unit.
func BenchmarkCommitSmall(b *testing.B) { benchmarkCommit(b, model.Default()) }

func benchmarkCommit(b *testing.B, initial *tandem.Device) {
	s, err := store.Open(filepath.Join(b.TempDir(), "config.db"), store.Options{
		Validate: validate.StoreValidator, Initial: initial,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	meta := store.Meta{Author: "bench", Origin: "cli"}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		desc := []byte(fmt.Sprintf(`"rev %d"`, i))
		if err := s.EditCandidate("bench", func(d *tandem.Device) error {
			return model.Set(d, "/interfaces/interface[name=X3]/config/description", desc)
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Commit(ctx, "bench", meta, store.CommitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode4VG16If measures RFC 7951 encoding of the configuration.
func BenchmarkEncode4VG16If(b *testing.B) {
	d := clusterConfig(b, 16)
	for b.Loop() {
		if _, err := model.Encode(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode4VG16If measures decoding it from RFC 7951 JSON.
func BenchmarkDecode4VG16If(b *testing.B) {
	raw, err := model.Encode(clusterConfig(b, 16))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := model.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
