package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/gnmi/cache"
	"github.com/openconfig/gnmi/ctree"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
)

func mustUpdate(t *testing.T, tr *Tree, path string, v any) {
	t.Helper()
	if err := tr.Update(path, v); err != nil {
		t.Fatalf("Update(%s, %v): %v", path, v, err)
	}
}

func values(ls []Leaf) map[string]any {
	m := map[string]any{}
	for _, l := range ls {
		m[l.Path] = l.Value
	}
	return m
}

func TestUpdateGetDeleteJSON(t *testing.T) {
	boot := time.Date(2026, 11, 21, 10, 0, 0, 500, time.UTC)
	tr := NewTree("unit-a")
	for _, c := range []struct {
		path string
		in   any
		want any
	}{
		{"/ha/state/role", "active", "active"},
		{"/tandem-ha:ha/state/quality", 90, uint64(90)},
		{"/ha/state/degraded", true, true},
		{"/system/state/boot-time", boot, "2026-11-21T10:00:00.0000005Z"},
		{"/system/plugins/plugin[name=lab]/name", "lab", "lab"},
		{"/system/plugins/plugin[name=lab]/state/name", "lab", "lab"},
		{"/system/plugins/plugin[name=lab]/state/status", "running", "running"},
		{"/system/plugins/plugin[name=lab]/state/pid", uint32(4242), uint64(4242)},
		{"/system/plugins/plugin[name=dpi]/state/status", "backoff", "backoff"},
		{"/interfaces/interface[name=X1]/name", "X1", "X1"},
		{"/interfaces/interface[name=X1]/state/ipv4-address", []string{"192.0.2.1/24", "198.51.100.1/24"}, []string{"192.0.2.1/24", "198.51.100.1/24"}},
	} {
		mustUpdate(t, tr, c.path, c.in)
		p := strings.Replace(c.path, "tandem-ha:", "", 1)
		got := values(tr.Get(p))
		if !reflect.DeepEqual(got[p], c.want) {
			t.Errorf("Get(%s) = %#v, want %#v", p, got[p], c.want)
		}
	}

	all := tr.Get("/")
	if len(all) != 11 {
		t.Fatalf("Get(/) has %d leaves, want 11: %v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Path >= all[i].Path {
			t.Errorf("Get(/) not sorted: %s before %s", all[i-1].Path, all[i].Path)
		}
		if all[i].Time.IsZero() {
			t.Errorf("%s has no time", all[i].Path)
		}
	}
	for _, c := range []struct {
		prefix string
		n      int
	}{
		{"/system/plugins/plugin[name=lab]", 4},
		{"/system/plugins/plugin", 5},
		{"/system/plugins", 5},
		{"/ha", 3},
		{"", 11},
		{"/cluster", 0},
		{"/no/such", 0},
	} {
		if got := len(tr.Get(c.prefix)); got != c.n {
			t.Errorf("Get(%q) has %d leaves, want %d", c.prefix, got, c.n)
		}
	}

	// JSON: RFC 7951, YANG shape, module-qualified top level.
	b, err := tr.JSON("/system")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		System struct {
			State   map[string]any `json:"state"`
			Plugins struct {
				Plugin []struct {
					Name  string         `json:"name"`
					State map[string]any `json:"state"`
				} `json:"plugin"`
			} `json:"plugins"`
		} `json:"tandem-system:system"`
		HA any `json:"tandem-ha:ha"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JSON: %v\n%s", err, b)
	}
	if doc.HA != nil {
		t.Errorf("JSON(/system) includes /ha:\n%s", b)
	}
	if got := doc.System.State["boot-time"]; got != "2026-11-21T10:00:00.0000005Z" {
		t.Errorf("boot-time = %v\n%s", got, b)
	}
	byName := map[string]map[string]any{}
	for _, p := range doc.System.Plugins.Plugin {
		byName[p.Name] = p.State
	}
	if byName["lab"]["status"] != "running" || byName["lab"]["pid"] != float64(4242) || byName["dpi"]["status"] != "backoff" {
		t.Errorf("plugins in JSON = %v\n%s", byName, b)
	}
	b, err = tr.JSON("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"tandem-ha:ha"`, `"role": "active"`, `"tandem-interfaces:interfaces"`, `"192.0.2.1/24"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON(/) lacks %s:\n%s", want, b)
		}
	}

	// Deletes: a leaf, a list entry, a whole container, everything.
	for _, c := range []struct {
		path string
		left int
	}{
		{"/ha/state/degraded", 10},
		{"/system/plugins/plugin[name=lab]", 6},
		{"/system/plugins/plugin[name=nosuch]", 6},
		{"/interfaces", 4},
		{"/", 0},
	} {
		if err := tr.Delete(c.path); err != nil {
			t.Fatalf("Delete(%s): %v", c.path, err)
		}
		if got := len(tr.Get("/")); got != c.left {
			t.Errorf("after Delete(%s): %d leaves, want %d: %v", c.path, got, c.left, tr.Get("/"))
		}
	}
	if b, err := tr.JSON("/"); err != nil || strings.TrimSpace(string(b)) != "{}" {
		t.Errorf("JSON of empty tree = %s, %v", b, err)
	}
	// A deleted leaf can be written again.
	mustUpdate(t, tr, "/ha/state/role", "standby")
	if v := values(tr.Get("/ha"))["/ha/state/role"]; v != "standby" {
		t.Errorf("role after re-create = %v", v)
	}
}

func TestUpdateRefused(t *testing.T) {
	tr := NewTree("unit-a")
	for _, c := range []struct {
		name, path string
		v          any
		want       string // in the error, besides the path
	}{
		{"unknown leaf", "/ha/state/no-such-leaf", "x", "unknown node"},
		{"unknown top", "/nope/state/x", "x", "unknown node"},
		{"config true", "/ha/config/mode", "active-standby", "config true"},
		{"config list leaf", "/interfaces/interface[name=X1]/config/enabled", true, "config true"},
		{"secret", "/ha/config/pre-shared-key", "s3cret", "config true"},
		{"container", "/ha/state", "x", "not a leaf"},
		{"missing key", "/system/plugins/plugin/state/status", "running", "needs its key"},
		{"wrong key", "/system/plugins/plugin[id=lab]/state/status", "running", "no key"},
		{"key on container", "/ha[x=1]/state/role", "active", "not a list"},
		{"bad enum", "/ha/state/role", "boss", "YANG type"},
		{"string for uint", "/ha/state/quality", "high", "YANG type"},
		{"negative uint", "/system/plugins/plugin[name=lab]/state/pid", -1, "negative"},
		{"slice for leaf", "/ha/state/reason", []string{"a"}, "single-valued"},
		{"scalar for leaf-list", "/interfaces/interface[name=X1]/state/ipv4-address", "192.0.2.1/24", "leaf-list"},
		{"nil", "/ha/state/reason", nil, "unsupported"},
		{"relative", "ha/state/role", "active", "must start with /"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := tr.Update(c.path, c.v)
			if err == nil {
				t.Fatalf("Update(%s, %v) accepted", c.path, c.v)
			}
			if !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q should name %s and say %q", err, c.path, c.want)
			}
		})
	}
	if n := len(tr.Get("/")); n != 0 {
		t.Errorf("refused updates left %d leaves", n)
	}
	if err := tr.Delete("/ha/nonsense"); err == nil || !strings.Contains(err.Error(), "/ha/nonsense") {
		t.Errorf("Delete of unknown path: %v", err)
	}
}

func TestNoStaleInTightLoop(t *testing.T) {
	tr := NewTree("unit-a")
	const workers, n = 8, 400
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				// Alternate values so the cache stores every write, and
				// also repeat values (suppressed, never stale).
				if err := tr.Update("/ha/state/quality", (w+i)%3); err != nil {
					errs <- err
					return
				}
				if err := tr.Update("/ha/state/reason", "same"); err != nil {
					errs <- err
					return
				}
				if i%100 == 0 {
					if err := tr.Delete("/ha/state/reason"); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if errors.Is(err, cache.ErrStale) {
			t.Fatalf("ErrStale: %v", err)
		}
		t.Fatal(err)
	}
	// Single goroutine, same value, same leaf: the clock may not move.
	for i := range 5000 {
		if err := tr.Update("/ha/state/role", "active"); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
}

func TestCacheClientSeesNotifications(t *testing.T) {
	tr := NewTree("unit-a")
	var mu sync.Mutex
	var seen []string
	remove := tr.AddClient(func(l *ctree.Leaf) {
		n := l.Value().(*gpb.Notification)
		mu.Lock()
		defer mu.Unlock()
		if n.GetPrefix().GetTarget() != "unit-a" {
			t.Errorf("notification target %q", n.GetPrefix().GetTarget())
		}
		for _, u := range n.GetUpdate() {
			seen = append(seen, fmt.Sprintf("update %v=%v", pathNames(u.GetPath()), u.GetVal().GetStringVal()))
		}
		for _, d := range n.GetDelete() {
			seen = append(seen, fmt.Sprintf("delete %v", pathNames(d)))
		}
	})
	mustUpdate(t, tr, "/system/plugins/plugin[name=lab]/state/status", "running")
	mustUpdate(t, tr, "/system/plugins/plugin[name=lab]/state/status", "backoff")
	if err := tr.Delete("/system/plugins/plugin[name=lab]"); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, tr, "/ha/state/role", "standby")
	remove()
	mustUpdate(t, tr, "/ha/state/role", "active")

	want := []string{
		"update [system plugins plugin state status]=running",
		"update [system plugins plugin state status]=backoff",
		"delete [system plugins plugin state status]",
		"update [ha state role]=standby",
	}
	mu.Lock()
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("client saw\n%q\nwant\n%q", seen, want)
	}
	mu.Unlock()

	// The cache answers queries as the gNMI subscribe package asks them:
	// target plus the path as strings, list keys as values.
	var got []string
	err := tr.Cache().Query("unit-a", []string{"ha", "state"}, func(p []string, _ *ctree.Leaf, v any) error {
		n := v.(*gpb.Notification)
		got = append(got, fmt.Sprintf("%v=%s", p, n.GetUpdate()[0].GetVal().GetStringVal()))
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, []string{"[ha state role]=active"}) {
		t.Errorf("Query = %v, %v", got, err)
	}
	mustUpdate(t, tr, "/system/plugins/plugin[name=lab]/state/status", "running")
	got = nil
	_ = tr.Cache().Query("unit-a", []string{"system", "plugins", "plugin", "lab"}, func(p []string, _ *ctree.Leaf, _ any) error {
		got = append(got, strings.Join(p, "/"))
		return nil
	})
	if !reflect.DeepEqual(got, []string{"system/plugins/plugin/lab/state/status"}) {
		t.Errorf("keyed Query = %v", got)
	}
}

func pathNames(p *gpb.Path) []string {
	var out []string
	for _, e := range p.GetElem() {
		out = append(out, e.GetName())
	}
	return out
}

func TestNewTreeNeedsTarget(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewTree(\"\") did not panic")
		}
	}()
	NewTree("")
}
