package telemetry

import (
	"fmt"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ytypes"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// JSON renders the leaves at or under prefix as RFC 7951 JSON in the YANG
// shape, from the root down with module-qualified top-level members (such
// as {"tandem-system:system": {...}}), indented. An empty result is {}.
func (t *Tree) JSON(prefix string) ([]byte, error) {
	leaves, err := t.get(prefix)
	if err != nil {
		return nil, err
	}
	d := &tandem.Device{}
	for _, l := range leaves {
		tv := l.val
		if err := ytypes.SetNode(model.Root(), d, &gpb.Path{Elem: l.path.GetElem()}, tv, &ytypes.InitMissingElements{}); err != nil {
			return nil, fmt.Errorf("path %s: render state: %w", l.Path, err)
		}
	}
	return model.EncodeAll(d)
}
