package topo

import (
	"runtime"

	"github.com/vishvananda/netns"
)

// InNetns runs fn on an OS thread inside the named network namespace.
// Sockets fn opens stay in that namespace after it returns. The thread
// goes back to the scheduler only once it is back in its own namespace (a
// locked thread that is never unlocked dies with its goroutine).
func InNetns(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer func() {
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}
