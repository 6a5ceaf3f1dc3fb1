// Command testplugin is a minimal tandem plugin for pluginhost's tests.
// TESTPLUGIN_NAME sets its name (default "test"). Apply reports the plugin's
// PID as a warning; Watch emits one observation right after subscription.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

type testPlugin struct{ name string }

func (p *testPlugin) Describe(context.Context) (*sdk.Info, error) {
	return &sdk.Info{Name: p.name, Kind: sdk.KindStatesync, Version: "0.0.1-test"}, nil
}

func (p *testPlugin) Apply(_ context.Context, in *sdk.Intent) (*sdk.ApplyResult, error) {
	if in.GetRole() == "faulted" {
		return nil, fmt.Errorf("refusing role %q", in.GetRole())
	}
	return &sdk.ApplyResult{Warnings: []string{fmt.Sprintf("pid=%d", os.Getpid())}}, nil
}

func (p *testPlugin) Watch(ctx context.Context, emit func(*sdk.Observation)) error {
	emit(sdk.NewLinkObservation(time.Now(), &sdk.LinkEvent{Port: "T0", Netdev: fmt.Sprintf("pid%d", os.Getpid()), Up: true}))
	<-ctx.Done()
	return nil
}

func main() {
	name := os.Getenv("TESTPLUGIN_NAME")
	if name == "" {
		name = "test"
	}
	sdk.Logger().Info("test plugin starting", "name", name)
	sdk.Serve(&testPlugin{name: name})
}
