package telemetry

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/openconfig/gnmi/cache"
	"github.com/openconfig/gnmi/ctree"
	"github.com/openconfig/gnmi/path"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// Tree is the unit's state tree: a gNMI cache holding one target, the
// unit's name. Leaves are stored as gNMI notifications with the full path
// (no origin) in the update, so a gNMI Subscribe server built on Cache
// serves them unchanged. A Tree is safe for concurrent use.
type Tree struct {
	target string
	cache  *cache.Cache

	mu   sync.Mutex // serialises writes so timestamps reach the cache in order
	last int64      // last timestamp handed out, in ns since the epoch

	cmu     sync.RWMutex
	clients map[int]func(*ctree.Leaf)
	nextID  int
}

// Leaf is one value of the state tree.
type Leaf struct {
	// Path is the leaf's YANG path with keys, such as
	// /system/plugins/plugin[name=lab]/state/status.
	Path string
	// Value is string, bool, int64, uint64, float64, or []string (a
	// leaf-list of strings; other leaf-lists are []any).
	Value any
	// Time is when the value was last written.
	Time time.Time
}

// NewTree returns an empty state tree for the unit named target. It panics
// if target is empty, which the gNMI cache cannot serve.
func NewTree(target string) *Tree {
	if target == "" {
		panic("telemetry: NewTree needs the unit's name as gNMI target")
	}
	t := &Tree{target: target, cache: cache.New([]string{target}), clients: map[int]func(*ctree.Leaf){}}
	t.cache.SetClient(t.dispatch)
	return t
}

// Target returns the gNMI target name of the tree (the unit's name).
func (t *Tree) Target() string { return t.target }

// Cache returns the underlying gNMI cache, for the gNMI server's Get and
// Subscribe (subscribe.NewServer(tree.Cache())). Do not call its SetClient:
// that would disconnect the tree's other clients; use AddClient instead.
func (t *Tree) Cache() *cache.Cache { return t.cache }

// AddClient registers fn to receive every change the cache accepts, as the
// cache's client API delivers it (a *ctree.Leaf whose value is a
// *gpb.Notification with one update or one delete). It is how the gNMI
// Subscribe server (subscribe.Server.Update) and in-process watchers follow
// the tree. fn runs synchronously on the writer's goroutine while the tree
// is locked: it must be quick and must not call Update, Delete or the
// returned remove function (call remove from elsewhere to unregister fn).
func (t *Tree) AddClient(fn func(*ctree.Leaf)) (remove func()) {
	t.cmu.Lock()
	id := t.nextID
	t.nextID++
	t.clients[id] = fn
	t.cmu.Unlock()
	return func() {
		t.cmu.Lock()
		delete(t.clients, id)
		t.cmu.Unlock()
	}
}

func (t *Tree) dispatch(l *ctree.Leaf) {
	t.cmu.RLock()
	defer t.cmu.RUnlock()
	for _, fn := range t.clients {
		fn(l)
	}
}

// stamp returns a timestamp later than every one handed out before, so
// the cache never rejects a write as stale (ErrStale) and a delete always
// removes what was written before it. Callers hold t.mu.
func (t *Tree) stamp() int64 {
	now := time.Now().UnixNano()
	if now <= t.last {
		now = t.last + 1
	}
	t.last = now
	return now
}

// Update sets the state leaf at path (such as /ha/state/role) to value: a
// string (also for enumerations and yang:date-and-time), bool, integer,
// float, time.Time, generated enum, or a slice of these for a leaf-list.
// The path must name a config false leaf or a list key leaf in the YANG
// schema, with all list keys; the value must fit the leaf's type.
func (t *Tree) Update(path string, value any) error {
	r, err := resolve(path, true)
	if err != nil {
		return err
	}
	tv, err := toTyped(r.entry, value)
	if err != nil {
		return fmt.Errorf("path %s: %w", path, err)
	}
	// The generated structs know the leaf's exact type (enum names,
	// widths): setting it into a scratch device proves JSON can render it.
	if err := ytypes.SetNode(model.Root(), &tandem.Device{}, r.path, proto.Clone(tv).(*gpb.TypedValue), &ytypes.InitMissingElements{}); err != nil {
		return fmt.Errorf("path %s: value %v does not fit the leaf's YANG type: %w", path, value, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &gpb.Notification{
		Timestamp: t.stamp(),
		Prefix:    &gpb.Path{Target: t.target},
		Update:    []*gpb.Update{{Path: &gpb.Path{Elem: r.path.GetElem()}, Val: tv}},
	}
	if err := t.cache.GnmiUpdate(n); err != nil {
		return fmt.Errorf("path %s: state tree: %w", path, err)
	}
	return nil
}

// Delete removes the leaf, container or list entry at path and everything
// under it, as gNMI deletes. A list without keys removes the whole list;
// "/" removes everything. Removing what is not there is not an error.
func (t *Tree) Delete(path string) error {
	r, err := resolve(path, false)
	if err != nil {
		return err
	}
	var dels []*gpb.Path
	if len(r.path.GetElem()) == 0 {
		// The cache cannot delete its root: delete each top-level node.
		for name := range model.Root().Dir {
			dels = append(dels, &gpb.Path{Elem: []*gpb.PathElem{{Name: name}}})
		}
	} else {
		dels = []*gpb.Path{{Elem: r.path.GetElem()}}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &gpb.Notification{Timestamp: t.stamp(), Prefix: &gpb.Path{Target: t.target}, Delete: dels}
	if err := t.cache.GnmiUpdate(n); err != nil {
		return fmt.Errorf("path %s: state tree: %w", path, err)
	}
	return nil
}

// Get returns the leaves at or under prefix ("/" or "" for all), sorted by
// path. An unknown prefix has no leaves.
func (t *Tree) Get(prefix string) []Leaf {
	rs, _ := t.get(prefix)
	out := make([]Leaf, len(rs))
	for i, r := range rs {
		out[i] = r.Leaf
	}
	return out
}

// stored is a leaf with its gNMI path and value as the cache holds them.
type stored struct {
	Leaf
	path *gpb.Path
	val  *gpb.TypedValue
}

func (t *Tree) get(prefix string) ([]stored, error) {
	r, err := resolve(prefix, false)
	if err != nil {
		return nil, err
	}
	var out []stored
	err = t.cache.Query(t.target, path.ToStrings(r.path, false), func(_ []string, _ *ctree.Leaf, v any) error {
		n, ok := v.(*gpb.Notification)
		if !ok || len(n.GetUpdate()) != 1 {
			return nil
		}
		u := n.GetUpdate()[0]
		p, err := ygot.PathToString(u.GetPath())
		if err != nil {
			return err
		}
		val := proto.Clone(u.GetVal()).(*gpb.TypedValue)
		out = append(out, stored{
			Leaf: Leaf{Path: p, Value: FromTyped(val), Time: time.Unix(0, n.GetTimestamp())},
			path: u.GetPath(),
			val:  val,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("path %s: state tree: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
