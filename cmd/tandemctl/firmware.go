package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// firmwareCmd runs `tandemctl firmware upgrade IMAGE|backup`.
func firmwareCmd(ctx context.Context, c api, args []string, out io.Writer) error {
	switch {
	case len(args) == 2 && args[0] == "upgrade":
		o, err := c.Upgrade(ctx, args[1])
		if err != nil {
			return err
		}
		if o.Backup != "" {
			fmt.Fprintf(out, "firmware %s and the settings kept in %s\n", o.PreviousVersion, o.Backup)
		}
		if o.SwitchedOver {
			fmt.Fprintln(out, "the active role was handed to the standby")
		}
		fmt.Fprintf(out, "firmware %s installed in place of %s; tandemd restarts into it now\n", o.Version, o.PreviousVersion)
		return nil
	case len(args) == 1 && args[0] == "backup":
		raw, err := c.State(ctx, "/system/state/firmware-backup")
		if err != nil {
			return err
		}
		var st struct {
			System struct {
				State struct {
					Backup struct {
						Version   string      `json:"version"`
						Revision  json.Number `json:"revision"`
						Time      string      `json:"time"`
						Directory string      `json:"directory"`
					} `json:"firmware-backup"`
				} `json:"state"`
			} `json:"tandem-system:system"`
		}
		b := &st.System.State.Backup
		if err := json.Unmarshal(raw, &st); err != nil || b.Version == "" {
			fmt.Fprintln(out, "no firmware backup: turn /ha/config/backup-on-upgrade on to keep one at the next upgrade")
			return nil
		}
		fmt.Fprintf(out, "firmware %s with the settings of revision %s, kept %s in %s\n", b.Version, b.Revision, b.Time, b.Directory)
		return nil
	}
	return errors.New("firmware upgrade IMAGE | firmware backup")
}
