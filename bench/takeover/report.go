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
	Results []*result
}

func (r *report) add(stack string, t timers) {
	r.Results = append(r.Results, &result{Stack: stack, Timers: t})
}

func (r *report) result(stack string, t timers) *result {
	for _, res := range r.Results {
		if res.Stack == stack && res.Timers == t {
			return res
		}
	}
	r.add(stack, t)
	return r.Results[len(r.Results)-1]
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

func (res *result) silences() []time.Duration {
	var ds []time.Duration
	for _, o := range res.Runs {
		ds = append(ds, o.Silence)
	}
	return ds
}

func (res *result) firstEchoes() []time.Duration {
	var ds []time.Duration
	for _, o := range res.Runs {
		ds = append(ds, o.FirstEcho)
	}
	return ds
}

func (res *result) wireGaps() []time.Duration {
	var out []time.Duration
	for _, r := range res.Runs {
		if r.WireOK {
			out = append(out, r.Wire)
		}
	}
	return out
}

func (res *result) heartbeats() []time.Duration {
	var ds []time.Duration
	for _, o := range res.Runs {
		ds = append(ds, o.HeartbeatEvery)
	}
	return ds
}

func fmtMS(d time.Duration) string { return fmt.Sprintf("%.0f ms", ms(d)) }

// write renders the report: a Markdown table of silence and time to the
// first echo per stack and timers, the tandem/keepalived ratios, and every
// run's silence.
func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "Takeover after kill -9 of the active: %d runs per row, %s, %d CPUs, %s, took %s\n\n",
		r.Runs, r.Host, r.CPUs, r.Started.Format("2006-01-02 15:04"), r.Took.Round(time.Second))
	fmt.Fprintln(w, "| timers | stack | runs ok | silence p50 | silence p99 | silence max | kill to first echo p50 | kill to first echo p99 | on the wire, old to new unit p50 / p99 | heartbeats seen every (p50) | tandem / keepalived silence p50, p99 |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, res := range r.Results {
		if res.Skipped != "" && len(res.Runs) == 0 {
			fmt.Fprintf(w, "| %s | %s | refused | | | | | | | | |\n", res.Timers, res.Stack)
			continue
		}
		s, f := res.silences(), res.firstEchoes()
		ratio := ""
		if res.Stack == "tandem" {
			ref := r.result("keepalived", res.Timers)
			if len(ref.Runs) > 0 && len(res.Runs) > 0 {
				rs := ref.silences()
				ratio = fmt.Sprintf("%.2fx, %.2fx", ms(percentile(s, 50))/ms(percentile(rs, 50)), ms(percentile(s, 99))/ms(percentile(rs, 99)))
			}
		}
		if len(res.Runs) == 0 {
			fmt.Fprintf(w, "| %s | %s | 0/%d | | | | | | | | |\n", res.Timers, res.Stack, len(res.Errors))
			continue
		}
		wire := "n/a (shared MAC)"
		if g := res.wireGaps(); len(g) > 0 {
			wire = fmtMS(percentile(g, 50)) + " / " + fmtMS(percentile(g, 99))
		}
		fmt.Fprintf(w, "| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s |\n", res.Timers, res.Stack,
			len(res.Runs), len(res.Runs)+len(res.Errors),
			fmtMS(percentile(s, 50)), fmtMS(percentile(s, 99)), fmtMS(percentile(s, 100)),
			fmtMS(percentile(f, 50)), fmtMS(percentile(f, 99)), wire, fmtMS(percentile(res.heartbeats(), 50)), ratio)
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
		}
		for _, e := range res.Errors {
			fmt.Fprintf(w, "%s %s: failed run: %s\n", res.Timers, res.Stack, oneLine(e))
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
