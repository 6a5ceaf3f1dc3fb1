//go:build race

package fsm

// raceBuild is set when the race detector slows everything down.
const raceBuild = true
