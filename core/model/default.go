package model

import (
	_ "embed"

	"github.com/tandem-ha/tandem/gen/tandem"
)

//go:embed default.json
var defaultJSON []byte

// Default returns the configuration a unit starts with when it has none:
// standalone mode on the lab platform with every YANG default in force.
func Default() *tandem.Device {
	d, err := Decode(defaultJSON)
	if err != nil {
		panic("model: embedded default.json is invalid: " + err.Error())
	}
	return d
}
