// Command tandemctl manages a tandem unit through the daemon's local API
// or, with a config file naming a unit's address and credentials, through
// its REST API: status, configuration (candidate, commit, confirm,
// rollback, diff, history), the state tree, the HA event log and the HA
// operations.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/configsync"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/northbound/rest/client"
	"github.com/tandem-ha/tandem/northbound/service"
)

const usage = `usage: tandemctl [-socket PATH | -config FILE] COMMAND

Without -config, tandemctl talks to the local daemon over its socket. With
-config FILE (or $TANDEMCTL_CONFIG, or ~/.config/tandem/tandemctl.json when
it exists and -socket is not given) it talks to the unit's REST API:
  {"url": "https://192.0.2.1", "user": "admin", "password": "...",
   "ca_file": "/path/to/cert.pem"}
("token" instead of user/password; "insecure": true skips certificate checks).

commands:
  status [-json]                   unit, role, running revision, plugins
  config show [running|candidate|REV]
  config set PATH VALUE            set a leaf in the candidate (VALUE is JSON;
                                   a bare word is taken as a string)
  config delete PATH               remove a node from the candidate
  config load FILE|-               replace the candidate with RFC 7951 JSON
  config validate                  validate the candidate
  config commit [-m TEXT] [-confirm DURATION]
  config confirm                   confirm a pending confirmed commit
  config discard                   drop the candidate's changes
  config rollback N [-m TEXT]      make the config of N commits ago running
  config diff [FROM [TO]]          FROM/TO: running, candidate or a revision
  config history [-n N]
  state [PATH]                     the state tree under PATH
  events [-n N] [-f]               the HA event log; -f follows it
  ha status [-json]                both members side by side, paths, RTT
  ha force-active|force-standby|reset|failover
  ha sync-settings                 send the whole configuration to the standby now
  ha sync-firmware                 send this unit's firmware to a standby that runs another
  ha sync-test                     check the sync path and whether the members agree
  ha diff                          the leaves that differ between the members
  ha join -peer ADDR -key KEY -port PORT -address ADDR/LEN
                                   join the pair whose active answers at ADDR
  sync status                      stateful sync per channel: entries, sequence ids, lag, losses
  firmware upgrade IMAGE           install the tandemd at IMAGE (a path on the unit) and restart
                                   into it; on the active, hand the role to the standby first
  firmware backup                  the firmware and settings the last upgrade kept
  lab ...                          the network-namespace lab (tandemctl lab -h)
`

func main() {
	socket := flag.String("socket", envOr("TANDEM_SOCKET", "/run/tandem/tandem.sock"), "the daemon's local API socket")
	configFile := flag.String("config", os.Getenv("TANDEMCTL_CONFIG"), "REST connection file (url, user/password or token, ca_file)")
	flag.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := connect(*socket, *configFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tandemctl:", err)
		os.Exit(1)
	}
	if err := run(ctx, c, flag.Args(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tandemctl:", err)
		os.Exit(1)
	}
}

// api is what tandemctl needs of a unit: the local socket client and the
// REST client both provide it.
type api interface {
	Status(ctx context.Context) (service.Status, error)
	Config(ctx context.Context, datastore string) ([]byte, error)
	Set(ctx context.Context, path string, value json.RawMessage) error
	Delete(ctx context.Context, path string) error
	Load(ctx context.Context, config []byte) error
	Commit(ctx context.Context, req local.CommitRequest) (store.RevisionInfo, error)
	Confirm(ctx context.Context) error
	Discard(ctx context.Context) error
	Rollback(ctx context.Context, n int, comment string) (store.RevisionInfo, error)
	Validate(ctx context.Context) (validate.Report, error)
	Diff(ctx context.Context, from, to string) (local.DiffResponse, error)
	History(ctx context.Context, limit int) ([]store.RevisionInfo, error)
	State(ctx context.Context, path string) ([]byte, error)
	HAStatus(ctx context.Context) (ha.Status, error)
	HAAdmin(ctx context.Context, cmd string) error
	SyncSettings(ctx context.Context) (configsync.Outcome, error)
	SyncTest(ctx context.Context) (configsync.TestResult, error)
	HADiff(ctx context.Context) (local.DiffResponse, error)
	Join(ctx context.Context, req service.JoinRequest) (string, error)
	Upgrade(ctx context.Context, image string) (service.UpgradeOutput, error)
	SyncFirmware(ctx context.Context) (service.SyncFirmwareOutput, error)
	Events(ctx context.Context, after uint64, limit int) ([]telemetry.Event, error)
	Follow(ctx context.Context, limit int, fn func(telemetry.Event) error) error
}

// connect chooses the local socket or, when a config file is given (or
// the default one exists and -socket was not set), the REST API.
func connect(socket, configFile string) (api, error) {
	socketSet := false
	flag.Visit(func(f *flag.Flag) { socketSet = socketSet || f.Name == "socket" })
	if configFile == "" && !socketSet {
		if dir, err := os.UserConfigDir(); err == nil {
			def := filepath.Join(dir, "tandem", "tandemctl.json")
			if _, err := os.Stat(def); err == nil {
				configFile = def
			}
		}
	}
	if configFile == "" {
		return local.NewClient(socket), nil
	}
	cfg, err := client.LoadConfig(configFile)
	if err != nil {
		return nil, err
	}
	return client.New(cfg)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var errUsage = errors.New("unknown command; see tandemctl -h")

func run(ctx context.Context, c api, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "status":
		return status(ctx, c, args[1:], out)
	case "config":
		if len(args) < 2 {
			return errUsage
		}
		return config(ctx, c, args[1], args[2:], out)
	case "state":
		path := "/"
		if len(args) > 1 {
			path = args[1]
		}
		b, err := c.State(ctx, path)
		if err != nil {
			return err
		}
		return printJSON(out, b)
	case "events":
		return events(ctx, c, args[1:], out)
	case "lab":
		return lab(ctx, args[1:], out)
	case "ha":
		return haCmd(ctx, c, args[1:], out)
	case "sync":
		return syncCmd(ctx, c, args[1:], out)
	case "firmware":
		return firmwareCmd(ctx, c, args[1:], out)
	}
	return errUsage
}

func status(ctx context.Context, c api, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(st)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "unit\t%s (serial %s)\n", st.Unit, st.SerialNumber)
	fmt.Fprintf(tw, "version\t%s, up since %s\n", st.Version, st.BootTime.Local().Format(time.DateTime))
	fmt.Fprintf(tw, "mode\t%s\n", st.Mode)
	fmt.Fprintf(tw, "role\t%s\n", st.Role)
	pending := ""
	if st.Running.PendingConfirm {
		pending = "  PENDING CONFIRM: run 'tandemctl config confirm' or it rolls back"
	}
	fmt.Fprintf(tw, "running\trevision %d by %s via %s at %s%s\n", st.Running.ID, orDash(st.Running.Author), st.Running.Origin, st.Running.Time.Local().Format(time.DateTime), pending)
	if st.CandidateDirty {
		fmt.Fprintf(tw, "candidate\tuncommitted changes (tandemctl config diff)\n")
	}
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLUGIN\tKIND\tSTATE\tPID\tRESTARTS\tAPPLIED\tLAST ERROR")
	for _, p := range st.Plugins {
		applied := "-"
		if p.AppliedRevision > 0 {
			applied = fmt.Sprintf("rev %d (%s)", p.AppliedRevision, p.AppliedRole)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", p.Name, p.Kind, p.State, p.PID, p.Restarts, applied, p.LastError)
	}
	return tw.Flush()
}

func config(ctx context.Context, c api, verb string, args []string, out io.Writer) error {
	switch verb {
	case "show":
		ds := "running"
		if len(args) > 0 {
			ds = args[0]
		}
		b, err := c.Config(ctx, ds)
		if err != nil {
			return err
		}
		return printJSON(out, b)
	case "set":
		if len(args) != 2 {
			return errors.New("config set PATH VALUE")
		}
		return c.Set(ctx, args[0], jsonValue(args[1]))
	case "delete":
		if len(args) != 1 {
			return errors.New("config delete PATH")
		}
		return c.Delete(ctx, args[0])
	case "load":
		if len(args) != 1 {
			return errors.New("config load FILE|-")
		}
		var b []byte
		var err error
		if args[0] == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(args[0])
		}
		if err != nil {
			return err
		}
		return c.Load(ctx, b)
	case "validate":
		rep, err := c.Validate(ctx)
		if err != nil {
			return err
		}
		for _, w := range rep.Warnings {
			fmt.Fprintln(out, "warning:", w.Error())
		}
		if len(rep.Errors) == 0 {
			fmt.Fprintln(out, "candidate is valid")
			return nil
		}
		for _, e := range rep.Errors {
			fmt.Fprintln(out, "error:", e.Error())
		}
		return fmt.Errorf("%d validation error(s)", len(rep.Errors))
	case "commit":
		fs := flag.NewFlagSet("commit", flag.ContinueOnError)
		msg := fs.String("m", "", "comment recorded with the revision")
		confirm := fs.Duration("confirm", 0, "roll back unless confirmed within this time")
		if err := fs.Parse(args); err != nil {
			return err
		}
		req := local.CommitRequest{Comment: *msg}
		if *confirm > 0 {
			req.ConfirmTimeout = confirm.String()
		}
		info, err := c.Commit(ctx, req)
		if err != nil {
			return err
		}
		for _, w := range info.Warnings {
			fmt.Fprintln(out, "warning:", w)
		}
		fmt.Fprintf(out, "running revision %d\n", info.ID)
		if info.PendingConfirm {
			fmt.Fprintf(out, "confirm within %s with 'tandemctl config confirm', or it rolls back\n", *confirm)
		}
		return nil
	case "confirm":
		return c.Confirm(ctx)
	case "discard":
		return c.Discard(ctx)
	case "rollback":
		fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
		msg := fs.String("m", "", "comment recorded with the revision")
		if len(args) < 1 {
			return errors.New("config rollback N [-m TEXT]")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return fmt.Errorf("rollback %q: N must be a number of revisions back", args[0])
		}
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		info, err := c.Rollback(ctx, n, *msg)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "running revision %d\n", info.ID)
		return nil
	case "diff":
		from, to := "running", "candidate"
		if len(args) > 0 {
			from = args[0]
		}
		if len(args) > 1 {
			to = args[1]
		}
		d, err := c.Diff(ctx, from, to)
		if err != nil {
			return err
		}
		if len(d.Changes) == 0 {
			fmt.Fprintf(out, "no differences between %s and %s\n", from, to)
		}
		for _, ch := range d.Changes {
			fmt.Fprintln(out, ch.String())
		}
		return nil
	case "history":
		fs := flag.NewFlagSet("history", flag.ContinueOnError)
		n := fs.Int("n", 20, "how many revisions")
		if err := fs.Parse(args); err != nil {
			return err
		}
		h, err := c.History(ctx, *n)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REV\tTIME\tAUTHOR\tORIGIN\tCOMMENT")
		for _, r := range h {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.ID, r.Time.Local().Format(time.DateTime), orDash(r.Author), r.Origin, r.Comment)
		}
		return tw.Flush()
	}
	return errUsage
}

// orDash shows an empty field as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonValue takes a command-line value as JSON when it parses as JSON and
// as a string otherwise, so `set /ha/config/mode active-standby` works.
func jsonValue(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func events(ctx context.Context, c api, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	n := fs.Int("n", 50, "how many recent events")
	follow := fs.Bool("f", false, "keep printing new events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	show := func(e telemetry.Event) error {
		_, err := fmt.Fprintf(out, "%6d  %s  %-7s  %-16s  %s\n", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05.000"), e.Severity, e.Type, e.Message)
		return err
	}
	if *follow {
		return c.Follow(ctx, *n, show)
	}
	list, err := c.Events(ctx, 0, *n)
	if err != nil {
		return err
	}
	for _, e := range list {
		if err := show(e); err != nil {
			return err
		}
	}
	return nil
}

func printJSON(out io.Writer, raw []byte) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		_, err = out.Write(raw)
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
