// Package dnsproxy is a small, real caching DNS forwarder for an HA pair
// that publishes its cache to the state sync plugin (SPEC SYNC-9): every
// answer it caches, every cache update and every expiry is published on
// the "dns-cache" channel; the standby's proxy loads what the active
// published, so that after a takeover the new active answers from a warm
// cache. It forwards UDP queries to one upstream server.
package dnsproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/client"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/records"
)

// Defaults of the zero Config fields.
const (
	DefaultMaxEntries = 10000
	DefaultTimeout    = 2 * time.Second
	DefaultSweep      = time.Second
)

// Config configures a Proxy.
type Config struct {
	// Conn is the UDP socket clients query; the proxy closes it.
	Conn *net.UDPConn
	// Upstream is the DNS server queries are forwarded to ("192.0.2.53:53").
	Upstream string
	// Socket is the publish socket; empty: the cache is not synced.
	Socket string
	// MaxEntries bounds the cache. DefaultMaxEntries.
	MaxEntries int
	// Timeout bounds one upstream exchange. DefaultTimeout.
	Timeout time.Duration
	// Sweep is the period of the expiry scan. DefaultSweep.
	Sweep time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Proxy is the forwarder and its cache.
type Proxy struct {
	cfg Config
	log *slog.Logger
	pub *client.Client

	mu     sync.Mutex
	cache  map[string]records.DNSCacheEntry
	active bool
}

// New checks cfg.
func New(cfg Config) (*Proxy, error) {
	if cfg.Conn == nil {
		return nil, errors.New("dnsproxy: Config.Conn: nil")
	}
	if _, err := net.ResolveUDPAddr("udp", cfg.Upstream); err != nil {
		return nil, fmt.Errorf("dnsproxy: Config.Upstream: %w", err)
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Sweep == 0 {
		cfg.Sweep = DefaultSweep
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Proxy{cfg: cfg, log: cfg.Logger.With("component", "dnsproxy"), cache: map[string]records.DNSCacheEntry{},
		active: cfg.Socket == ""}, nil
}

// Len is the number of cached answers.
func (p *Proxy) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.cache)
}

// Run serves queries until ctx ends.
func (p *Proxy) Run(ctx context.Context) error {
	if p.cfg.Socket != "" {
		pub, err := client.Dial(ctx, p.cfg.Socket)
		if err != nil {
			return fmt.Errorf("dnsproxy: %w", err)
		}
		p.pub = pub
		defer pub.Close()
		go p.follow(ctx)
	}
	go p.sweep(ctx)
	stop := context.AfterFunc(ctx, func() { p.cfg.Conn.Close() })
	defer stop()
	buf := make([]byte, 4096)
	for {
		n, from, err := p.cfg.Conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dnsproxy: %w", err)
		}
		q := append([]byte(nil), buf[:n]...)
		go func() {
			if resp := p.answer(ctx, q); resp != nil {
				_, _ = p.cfg.Conn.WriteToUDPAddrPort(resp, from)
			}
		}()
	}
}

// answer answers one query, from the cache or the upstream server.
func (p *Proxy) answer(ctx context.Context, query []byte) []byte {
	var parser dnsmessage.Parser
	hdr, err := parser.Start(query)
	if err != nil {
		return nil
	}
	q, err := parser.Question()
	if err != nil {
		return nil
	}
	key := records.DNSKey(q.Name.String(), uint16(q.Type), uint16(q.Class))
	now := time.Now()
	p.mu.Lock()
	e, hit := p.cache[key]
	p.mu.Unlock()
	if hit && now.Before(e.Expires) {
		resp, err := fromCache(hdr.ID, q, &e, now)
		if err == nil {
			return resp
		}
		p.log.Warn("dns: cached entry unusable", "key", key, "err", err)
	}
	resp, err := p.forward(ctx, query)
	if err != nil {
		p.log.Warn("dns: upstream", "err", err)
		return servfail(hdr, q)
	}
	if e, ok := toCache(resp, q, now); ok {
		p.store(ctx, e)
	}
	return resp
}

func (p *Proxy) forward(ctx context.Context, query []byte) ([]byte, error) {
	c, err := net.Dial("udp", p.cfg.Upstream)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(p.cfg.Timeout))
	if _, err := c.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// store caches e and publishes it (an addition or an update).
func (p *Proxy) store(ctx context.Context, e records.DNSCacheEntry) {
	key := records.DNSKey(e.Name, e.Type, e.Class)
	p.mu.Lock()
	if _, ok := p.cache[key]; !ok && len(p.cache) >= p.cfg.MaxEntries {
		p.mu.Unlock()
		return
	}
	p.cache[key] = e
	active := p.active
	p.mu.Unlock()
	if p.pub == nil || !active {
		return
	}
	we, err := e.Entry()
	if err == nil {
		err = p.pub.Upsert(ctx, publish.ChannelDNSCache, we)
	}
	if err != nil {
		p.log.Error("dns: publishing a cache entry", "key", key, "err", err)
	}
}

// sweep removes expired entries; the active publishes the deletions.
func (p *Proxy) sweep(ctx context.Context) {
	t := time.NewTicker(p.cfg.Sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var gone []string
			p.mu.Lock()
			for k, e := range p.cache {
				if !now.Before(e.Expires) {
					delete(p.cache, k)
					gone = append(gone, k)
				}
			}
			active := p.active
			p.mu.Unlock()
			if len(gone) > 0 && active && p.pub != nil {
				if err := p.pub.Delete(ctx, publish.ChannelDNSCache, gone...); err != nil {
					p.log.Error("dns: publishing expiries", "err", err)
				}
			}
		}
	}
}

// follow loads the channel: on the standby the cache is what the active
// published; the role decides who publishes.
func (p *Proxy) follow(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := client.Watch(ctx, p.cfg.Socket, publish.ChannelDNSCache)
		if err == nil {
			for {
				ev, err := w.Next()
				if err != nil {
					break
				}
				p.apply(ev)
			}
			w.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (p *Proxy) apply(ev client.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Role != "" {
		if was := p.active; was != (ev.Role == client.RoleActive) {
			p.active = !was
			p.log.Info("dns: role", "role", ev.Role, "cached", len(p.cache))
		}
	}
	if p.active {
		return // the active's own cache is the truth
	}
	if ev.Kind == client.EventSnapshot {
		clear(p.cache)
	}
	for _, we := range ev.Entries {
		e, err := records.DecodeDNSCacheEntry(we)
		if err != nil {
			p.log.Warn("dns: replicated entry unreadable", "err", err)
			continue
		}
		p.cache[we.Key] = e
	}
	for _, k := range ev.Keys {
		delete(p.cache, k)
	}
}

// toCache makes a cache entry of an upstream response: its answers, kept
// for their smallest TTL. Responses without answers are not cached.
func toCache(resp []byte, q dnsmessage.Question, now time.Time) (records.DNSCacheEntry, bool) {
	var parser dnsmessage.Parser
	hdr, err := parser.Start(resp)
	if err != nil || hdr.Truncated || hdr.RCode != dnsmessage.RCodeSuccess {
		return records.DNSCacheEntry{}, false
	}
	if err := parser.SkipAllQuestions(); err != nil {
		return records.DNSCacheEntry{}, false
	}
	rs, err := parser.AllAnswers()
	if err != nil || len(rs) == 0 {
		return records.DNSCacheEntry{}, false
	}
	e := records.DNSCacheEntry{Name: q.Name.String(), Type: uint16(q.Type), Class: uint16(q.Class)}
	minTTL := rs[0].Header.TTL
	for _, r := range rs {
		data, err := rdata(r)
		if err != nil {
			return records.DNSCacheEntry{}, false
		}
		minTTL = min(minTTL, r.Header.TTL)
		e.Answers = append(e.Answers, records.DNSResource{Name: r.Header.Name.String(), Type: uint16(r.Header.Type), TTL: r.Header.TTL, Data: data})
	}
	if minTTL == 0 {
		return records.DNSCacheEntry{}, false
	}
	e.Expires = now.Add(time.Duration(minTTL) * time.Second)
	return e, e.Check() == nil
}

// rdata is a resource's RDATA in uncompressed wire format.
func rdata(r dnsmessage.Resource) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{})
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	h := r.Header
	var err error
	switch body := r.Body.(type) {
	case *dnsmessage.AResource:
		err = b.AResource(h, *body)
	case *dnsmessage.AAAAResource:
		err = b.AAAAResource(h, *body)
	case *dnsmessage.CNAMEResource:
		err = b.CNAMEResource(h, *body)
	case *dnsmessage.NSResource:
		err = b.NSResource(h, *body)
	case *dnsmessage.PTRResource:
		err = b.PTRResource(h, *body)
	case *dnsmessage.MXResource:
		err = b.MXResource(h, *body)
	case *dnsmessage.TXTResource:
		err = b.TXTResource(h, *body)
	case *dnsmessage.SRVResource:
		err = b.SRVResource(h, *body)
	case *dnsmessage.SOAResource:
		err = b.SOAResource(h, *body)
	case *dnsmessage.UnknownResource:
		return append([]byte(nil), body.Data...), nil
	default:
		return nil, fmt.Errorf("type %v not cached", h.Type)
	}
	if err != nil {
		return nil, err
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, err
	}
	var p dnsmessage.Parser
	if _, err := p.Start(msg); err != nil {
		return nil, err
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, err
	}
	if _, err := p.AnswerHeader(); err != nil {
		return nil, err
	}
	u, err := p.UnknownResource()
	return u.Data, err
}

// fromCache answers a query from a cache entry; TTLs count down.
func fromCache(id uint16, q dnsmessage.Question, e *records.DNSCacheEntry, now time.Time) ([]byte, error) {
	left := uint32(e.Expires.Sub(now) / time.Second)
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RecursionDesired: true, RecursionAvailable: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, a := range e.Answers {
		name, err := dnsmessage.NewName(a.Name)
		if err != nil {
			return nil, err
		}
		h := dnsmessage.ResourceHeader{Name: name, Type: dnsmessage.Type(a.Type), Class: q.Class, TTL: min(a.TTL, left)}
		if err := b.UnknownResource(h, dnsmessage.UnknownResource{Type: dnsmessage.Type(a.Type), Data: a.Data}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

func servfail(hdr dnsmessage.Header, q dnsmessage.Question) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, RCode: dnsmessage.RCodeServerFailure,
		RecursionDesired: hdr.RecursionDesired, RecursionAvailable: true})
	_ = b.StartQuestions()
	_ = b.Question(q)
	msg, _ := b.Finish()
	return msg
}
