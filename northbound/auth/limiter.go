package auth

import (
	"sync"
	"time"
)

// Limiter blocks a source after too many failed logins: after max
// failures within window, further attempts are refused until window has
// passed since the last failure. A success clears the source.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	sources map[string]*failures
}

type failures struct {
	count int
	last  time.Time
}

// NewLimiter returns a limiter allowing max failures per window.
func NewLimiter(max int, window time.Duration) *Limiter {
	return &Limiter{max: max, window: window, now: time.Now, sources: map[string]*failures{}}
}

// Blocked returns how long source must wait, 0 when it may try.
func (l *Limiter) Blocked(source string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.sources[source]
	if f == nil {
		return 0
	}
	since := l.now().Sub(f.last)
	if since >= l.window {
		delete(l.sources, source)
		return 0
	}
	if f.count < l.max {
		return 0
	}
	return l.window - since
}

// Fail records a failed login from source.
func (l *Limiter) Fail(source string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.sources[source]
	if f == nil || now.Sub(f.last) >= l.window {
		f = &failures{}
		l.sources[source] = f
	}
	f.count++
	f.last = now
	if len(l.sources) > 100000 {
		l.pruneLocked(now)
	}
}

// Succeed clears source's failures.
func (l *Limiter) Succeed(source string) {
	l.mu.Lock()
	delete(l.sources, source)
	l.mu.Unlock()
}

func (l *Limiter) pruneLocked(now time.Time) {
	for s, f := range l.sources {
		if now.Sub(f.last) >= l.window {
			delete(l.sources, s)
		}
	}
}
