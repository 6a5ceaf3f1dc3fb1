package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// result is every run of one stack at one timer setting.
type result struct {
	Stack  string
	Timers timers
	// Runs are the measured runs.
	Runs []outcome
	// Errors are the runs that failed, with the reason.
	Errors []string
	// Skipped says why the stack did not run at these timers, if it did not.
	Skipped string
}

// report is the whole benchmark.
type report struct {
	Started time.Time
	Took    time.Duration
	Host    string
	CPUs    int
	Runs    int
	// Ref is the reference stack's name, empty without one.
	Ref     string
	Results []*result
}

func (r *report) add(stack string, t timers) {
	r.Results = append(r.Results, &result{Stack: stack, Timers: t})
}

// result returns the result of stack at timers t, added if missing.
func (r *report) result(stack string, t timers) *result {
	if res := r.lookup(stack, t); res != nil {
		return res
	}
	r.add(stack, t)
	return r.Results[len(r.Results)-1]
}

// lookup returns the result of stack at timers t, nil if there is none.
func (r *report) lookup(stack string, t timers) *result {
	for _, res := range r.Results {
		if res.Stack == stack && res.Timers == t {
			return res
		}
	}
	return nil
}

// percentile is the nearest-rank percentile p (0-100) of ds; with 20
// values p99 is the largest.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// values collects one duration per run, from the runs for which get
// has one.
func (res *result) values(get func(outcome) (time.Duration, bool)) []time.Duration {
	var ds []time.Duration
	for _, o := range res.Runs {
		if d, ok := get(o); ok {
			ds = append(ds, d)
		}
	}
	return ds
}

func (res *result) silences() []time.Duration {
	return res.values(func(o outcome) (time.Duration, bool) { return o.Silence, true })
}

func (res *result) firstEchoes() []time.Duration {
	return res.values(func(o outcome) (time.Duration, bool) { return o.FirstEcho, true })
}

func (res *result) heartbeats() []time.Duration {
	return res.values(func(o outcome) (time.Duration, bool) { return o.HeartbeatEvery, true })
}

func (res *result) wireGaps() []time.Duration {
	return res.values(func(o outcome) (time.Duration, bool) { return o.Wire, o.WireOK })
}

// afterDead are the runs' takeover times after the dead interval, where
// the standby's heartbeat tap saw the active's last heartbeat.
func (res *result) afterDead() []time.Duration {
	return res.values(func(o outcome) (time.Duration, bool) { return o.AfterDead, o.AfterDeadOK })
}

// tcpSilences are the TCP silences of the runs in which at least one
// session survived.
func (res *result) tcpSilences() []time.Duration {
	return res.values(func(o outcome) (time.Duration, bool) { return o.TCPSilence, o.TCPSilenceOK })
}

// tcpSurvived counts the sessions that survived and all sessions, over
// every run.
func (res *result) tcpSurvived() (n, of int) {
	for _, o := range res.Runs {
		n += o.TCPSurvived
		of += o.TCPSessions
	}
	return n, of
}

func fmtMS(d time.Duration) string { return fmt.Sprintf("%.0f ms", ms(d)) }

// tcpSilence renders a run's TCP silence, none when no session survived.
func tcpSilence(o outcome) string {
	if !o.TCPSilenceOK {
		return "none"
	}
	return fmt.Sprintf("%.1f ms", ms(o.TCPSilence))
}

// afterDead renders a run's takeover work after the dead interval, n/a
// when the standby had not heard the active within one dead interval
// before the kill.
func afterDead(o outcome) string {
	if !o.AfterDeadOK {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", ms(o.AfterDead))
}

// sessionsLost says why a run's lost TCP sessions were lost and where its
// logs are; empty when none was lost.
func sessionsLost(o outcome) string {
	if len(o.TCPLost) == 0 {
		return ""
	}
	s := lostSummary(o.TCPLost)
	if o.Logs != "" {
		s += "; logs in " + o.Logs
	}
	return s
}

// ratio renders a/b, or n/a when either has no value.
func ratio(a, b []time.Duration, p float64) string {
	if len(a) == 0 || len(b) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", ms(percentile(a, p))/ms(percentile(b, p)))
}

// write renders the report: a Markdown table of the UDP stream's silence
// and time to the first echo, and of the TCP sessions' silence and
// survival, per stack and timers, the tandem/reference ratios, and every
// run's silences.
func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "Takeover after kill -9 of the active: %d runs per row, %s, %d CPUs, %s, took %s\n",
		r.Runs, r.Host, r.CPUs, r.Started.Format("2006-01-02 15:04"), r.Took.Round(time.Second))
	if r.Ref != "" {
		fmt.Fprintf(w, "Reference: %s, keepalived (VRRPv3) with conntrackd (FTFW sync of the connection tracking table over the HA link), as stateful Linux firewall pairs run them.\n", r.Ref)
	}
	fmt.Fprintf(w, "Silence is the UDP stream's (one request per ms). TCP: %d sessions per run, one request per ms each; a session survived if it had no error (such as a reset) and echoed again through the new unit until the end of the run. TCP silence: per run, the longest gap between echoes among its survived sessions; p50 and p99 over the runs with at least one survived session. Sessions that did not survive count only in \"TCP sessions survived\". After the dead interval: from the moment the standby's dead interval ended (the active's last heartbeat at the standby, seen by a packet socket on its HA ports, plus interval x 3 for tandem, VRRPv3's Master_Down_Interval for keepalived) to the end of the silence, which takes the random phase of the kill out: it is the takeover work of the stack (runs in which the standby had not heard the active for a whole dead interval before the kill are left out of it).\n\n", tcpSessions)
	fmt.Fprintln(w, "| timers | stack | runs ok | silence p50 | silence p99 | silence max | kill to first echo p50 | kill to first echo p99 | on the wire, old to new unit p50 / p99 | after the dead interval p50 / p99 | heartbeats seen every (p50) | tandem / reference silence p50, p99 | TCP silence p50 (survived sessions) | TCP silence p99 (survived sessions) | TCP sessions survived | tandem / reference TCP silence p50 |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, res := range r.Results {
		if res.Skipped != "" && len(res.Runs) == 0 {
			fmt.Fprintf(w, "| %s | %s | refused | | | | | | | | | | | | | |\n", res.Timers, res.Stack)
			continue
		}
		s, f, ts := res.silences(), res.firstEchoes(), res.tcpSilences()
		udpRatio, tcpRatio := "", ""
		if ref := r.lookup(r.Ref, res.Timers); res.Stack == "tandem" && ref != nil && len(ref.Runs) > 0 && len(res.Runs) > 0 {
			rs := ref.silences()
			udpRatio = ratio(s, rs, 50) + ", " + ratio(s, rs, 99)
			tcpRatio = ratio(ts, ref.tcpSilences(), 50)
		}
		if len(res.Runs) == 0 {
			fmt.Fprintf(w, "| %s | %s | 0/%d | | | | | | | | | | | | | |\n", res.Timers, res.Stack, len(res.Errors))
			continue
		}
		wire := "n/a (shared MAC)"
		if g := res.wireGaps(); len(g) > 0 {
			wire = fmtMS(percentile(g, 50)) + " / " + fmtMS(percentile(g, 99))
		}
		after := "n/a"
		if a := res.afterDead(); len(a) > 0 {
			after = fmtMS(percentile(a, 50)) + " / " + fmtMS(percentile(a, 99))
			if len(a) < len(res.Runs) {
				after += fmt.Sprintf(" (%d of %d runs)", len(a), len(res.Runs))
			}
		}
		tcp50, tcp99 := "none", "none"
		if len(ts) > 0 {
			tcp50, tcp99 = fmtMS(percentile(ts, 50)), fmtMS(percentile(ts, 99))
		}
		survived, sessions := res.tcpSurvived()
		fmt.Fprintf(w, "| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d | %s |\n", res.Timers, res.Stack,
			len(res.Runs), len(res.Runs)+len(res.Errors),
			fmtMS(percentile(s, 50)), fmtMS(percentile(s, 99)), fmtMS(percentile(s, 100)),
			fmtMS(percentile(f, 50)), fmtMS(percentile(f, 99)), wire, after, fmtMS(percentile(res.heartbeats(), 50)), udpRatio,
			tcp50, tcp99, survived, sessions, tcpRatio)
	}
	fmt.Fprintln(w)
	for _, res := range r.Results {
		if res.Skipped != "" {
			fmt.Fprintf(w, "%s %s: not run: %s\n", res.Timers, res.Stack, oneLine(res.Skipped))
		}
		if len(res.Runs) > 0 {
			var parts []string
			for _, d := range res.silences() {
				parts = append(parts, fmt.Sprintf("%.0f", ms(d)))
			}
			fmt.Fprintf(w, "%s %s silences (ms, run order): %s\n", res.Timers, res.Stack, strings.Join(parts, " "))
			parts = parts[:0]
			for _, o := range res.Runs {
				p := "none"
				if o.TCPSilenceOK {
					p = fmt.Sprintf("%.0f", ms(o.TCPSilence))
				}
				parts = append(parts, fmt.Sprintf("%s (%d/%d)", p, o.TCPSurvived, o.TCPSessions))
			}
			fmt.Fprintf(w, "%s %s TCP silences (ms, sessions survived, run order): %s\n", res.Timers, res.Stack, strings.Join(parts, " "))
			for i, o := range res.Runs {
				if len(o.TCPLost) > 0 {
					fmt.Fprintf(w, "%s %s TCP sessions lost in run %d of those ok: %s\n", res.Timers, res.Stack, i+1, sessionsLost(o))
				}
			}
		}
		for _, e := range res.Errors {
			fmt.Fprintf(w, "%s %s: failed run: %s\n", res.Timers, res.Stack, oneLine(e))
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
