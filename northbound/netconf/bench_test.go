package netconf

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkGetConfigFull measures <get-config> of the whole running
// configuration (the lab pair's) over SSH with base:1.1 framing, one
// session.
func BenchmarkGetConfigFull(b *testing.B) {
	f := newBenchFixture(b)
	c := f.admin("1.1")
	c.ok(`<copy-config><target><running/></target><source>` + labPairConfigXML(b) + `</source></copy-config>`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.data(`<get-config><source><running/></source></get-config>`)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "get-config/s")
}

// BenchmarkEditCommit measures <edit-config> of the candidate followed
// by <commit> (a new running revision in bbolt each time), with one and
// ten sessions taking turns on the shared candidate under its lock.
func BenchmarkEditCommit(b *testing.B) {
	for _, sessions := range []int{1, 10} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			f := newBenchFixture(b)
			clients := make([]*client, sessions)
			for i := range clients {
				clients[i] = f.admin("1.1")
			}
			var mu sync.Mutex // one edit+commit at a time: the candidate is shared
			next := 0
			b.ResetTimer()
			var wg sync.WaitGroup
			per := (b.N + sessions - 1) / sessions
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < per; i++ {
						mu.Lock()
						next++
						hb := 100 + next%1000
						c.ok(fmt.Sprintf(editMode, fmt.Sprint(hb)))
						c.ok(`<commit/>`)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(per*sessions)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
