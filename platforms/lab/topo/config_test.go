package topo

import (
	"testing"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/validate"
)

// The lab's pair configuration is what tandemd accepts as a first
// configuration: it decodes and validates with no error or warning.
func TestPairConfigIsValid(t *testing.T) {
	d, err := model.Decode([]byte(PairConfig))
	if err != nil {
		t.Fatal(err)
	}
	rep := validate.Validate(d)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) > 0 {
		t.Errorf("warnings: %v", rep.Warnings)
	}
}
