package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/platforms/lab/topo"
)

const labUsage = `usage: tandemctl lab [-name NAME] [-dir DIR] COMMAND

commands:
  up [-bin DIR]        build the lab (client, fw1, fw2, server; LAN, WAN, HA,
                       backup HA) and start tandemd in fw1 and fw2
  demo                 build a lab, run a TCP transfer through the pair, kill -9
                       the active, report the takeover, tear the lab down
  down                 stop the units and remove every namespace of the lab
  status               namespaces, units, their roles and revisions
  kill UNIT            power a unit off: kill -9 tandemd and take its ports down
  boot UNIT            power a killed unit on again (ports up, tandemd restarted)
  cut UNIT:SEGMENT     pull a cable, such as fw1:ha (lan, wan, ha, ha-backup)
  restore UNIT:SEGMENT plug it back in
`

// lab runs the lab commands.
func lab(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	name := fs.String("name", "tdm", "lab name, the prefix of its namespaces")
	dir := fs.String("dir", "", "lab state directory (default /run/tandem-lab/NAME)")
	fs.Usage = func() { fmt.Fprint(os.Stderr, labUsage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		*dir = filepath.Join("/run/tandem-lab", *name)
	}
	args = fs.Args()
	if len(args) == 0 {
		fs.Usage()
		return errUsage
	}
	switch args[0] {
	case "up":
		return labUp(args[1:], *name, *dir, out)
	case "demo":
		return labDemo(ctx, args[1:], *name, *dir, out)
	}
	l, err := topo.Load(*dir)
	if err != nil {
		return err
	}
	switch args[0] {
	case "down":
		if err := l.Down(); err != nil {
			return err
		}
		fmt.Fprintf(out, "lab %s removed\n", l.Name)
		return nil
	case "status":
		return labStatus(ctx, l, out)
	case "kill", "boot", "cut", "restore":
		if len(args) != 2 {
			return fmt.Errorf("lab %s needs one argument", args[0])
		}
		op := map[string]func(string) error{"kill": l.Kill, "boot": l.Boot, "cut": l.Cut, "restore": l.Restore}[args[0]]
		return op(args[1])
	}
	return errUsage
}

func labUp(args []string, name, dir string, out io.Writer) error {
	fs := flag.NewFlagSet("lab up", flag.ContinueOnError)
	self, _ := os.Executable()
	bin := fs.String("bin", filepath.Dir(self), "directory of tandemd and plugins/")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("lab up needs root: it creates network namespaces")
	}
	start := time.Now()
	l, err := topo.Up(topo.Options{Name: name, Dir: dir, Tandemd: filepath.Join(*bin, "tandemd"), PluginDir: filepath.Join(*bin, "plugins")})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "lab %s up in %s (state in %s)\n", l.Name, time.Since(start).Round(time.Millisecond), l.Dir)
	for _, u := range l.Units {
		fmt.Fprintf(out, "  %s: tandemd pid %d, 'tandemctl -socket %s status'\n", u.Name, u.PID, u.Socket)
	}
	return nil
}

func labStatus(ctx context.Context, l *topo.Lab, out io.Writer) error {
	hosts, units := l.Status()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tNAMESPACE\tPRESENT")
	for _, h := range hosts {
		fmt.Fprintf(tw, "%s\t%s\t%v\n", h.Host, h.Namespace, h.Present)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "UNIT\tSERIAL\tPID\tRUNNING\tROLE\tREVISION")
	for _, u := range units {
		role, rev := "-", "-"
		if u.Running {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if st, err := local.NewClient(u.Socket).Status(cctx); err == nil {
				role, rev = st.Role, fmt.Sprint(st.Running.ID)
			}
			cancel()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%s\t%s\n", u.Unit, u.Serial, u.PID, u.Running, role, rev)
	}
	return tw.Flush()
}
