package gnmi

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/openconfig/gnmi/cache"
	"github.com/openconfig/gnmi/ctree"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/core/store"
)

// mirror keeps the running configuration, secrets removed, as gNMI leaves
// in a cache of its own, so that configuration paths are read and
// subscribed to exactly like the state tree. It follows every new running
// revision; readers call refresh first so that a Get right after a Set
// sees the Set.
type mirror struct {
	store  *store.Store
	cache  *cache.Cache
	target string

	mu   sync.Mutex
	rev  uint64                     // revision the cache holds; 0 before the first refresh
	have map[string][]*gpb.PathElem // leaves in the cache by pathKey
	last int64                      // last timestamp written
}

func newMirror(st *store.Store, target string) *mirror {
	return &mirror{store: st, cache: cache.New([]string{target}), target: target}
}

// source returns the mirror as a source of leaves.
func (m *mirror) source() source { return source{cache: m.cache, target: m.target, config: true} }

// setClient registers fn for every change of the mirror's cache.
func (m *mirror) setClient(fn func(*ctree.Leaf)) { m.cache.SetClient(fn) }

// refresh brings the cache to the running revision: new and changed
// leaves are updated, vanished ones deleted (unchanged ones are left
// alone, so subscribers on change hear only what changed).
func (m *mirror) refresh() error {
	d, info := m.store.Running()
	m.mu.Lock()
	defer m.mu.Unlock()
	if info.ID == m.rev {
		return nil
	}
	ts := time.Now().UnixNano()
	if ts <= m.last {
		ts = m.last + 1
	}
	m.last = ts
	ns, err := ygot.TogNMINotifications(d, ts, ygot.GNMINotificationsConfig{UsePathElem: true})
	if err != nil {
		return fmt.Errorf("running configuration as gNMI leaves: %w", err)
	}
	have := make(map[string][]*gpb.PathElem, len(m.have))
	n := &gpb.Notification{Timestamp: ts, Prefix: &gpb.Path{Target: m.target}}
	for _, src := range ns {
		for _, u := range src.GetUpdate() {
			elems := append(append([]*gpb.PathElem(nil), src.GetPrefix().GetElem()...), u.GetPath().GetElem()...)
			if model.IsWriteOnly(namesOnly(elems)) {
				continue // secrets never leave the unit
			}
			have[pathKey(elems)] = elems
			n.Update = append(n.Update, &gpb.Update{Path: &gpb.Path{Elem: elems}, Val: u.GetVal()})
		}
	}
	for k, elems := range m.have {
		if _, ok := have[k]; !ok {
			n.Delete = append(n.Delete, &gpb.Path{Elem: elems})
		}
	}
	if len(n.Update)+len(n.Delete) > 0 {
		if err := m.cache.GnmiUpdate(n); err != nil {
			return fmt.Errorf("configuration mirror at revision %d: %w", info.ID, err)
		}
	}
	m.rev, m.have = info.ID, have
	return nil
}

// follow refreshes the mirror after every new running revision until ctx
// ends.
func (m *mirror) follow(ctx context.Context, onErr func(error)) {
	revs, cancel := m.store.Subscribe()
	defer cancel()
	if err := m.refresh(); err != nil {
		onErr(err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-revs:
			if !ok {
				return
			}
			if err := m.refresh(); err != nil {
				onErr(err)
			}
		}
	}
}

// namesOnly renders the schema path of concrete elements: their names
// without keys, such as /system/users/user/config/password-hash.
func namesOnly(elems []*gpb.PathElem) string {
	var b strings.Builder
	for _, e := range elems {
		b.WriteByte('/')
		b.WriteString(e.GetName())
	}
	return b.String()
}
