package neigh

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

func codecCases() map[string]Entry {
	mac := net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0x20, 0x30}
	return map[string]Entry{
		"ipv4":            {Ifname: "lan0", Addr: netip.MustParseAddr("192.0.2.10"), LLAddr: mac},
		"ipv6 router":     {Ifname: "wan.100", Addr: netip.MustParseAddr("2001:db8::1"), LLAddr: mac, Router: true},
		"ipv6 link-local": {Ifname: "x0", Addr: netip.MustParseAddr("fe80::1"), LLAddr: mac},
		"long name":       {Ifname: "abcdefghijklmno", Addr: netip.MustParseAddr("10.0.0.1"), LLAddr: make(net.HardwareAddr, 20)},
	}
}

// SPEC SYNC-2: a neighbour entry survives the codec.
func TestCodecRoundTripSYNC2(t *testing.T) {
	for name, e := range codecCases() {
		t.Run(name, func(t *testing.T) {
			r := UpsertRecord(&e)
			got, err := Decode(r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Fatalf("got %+v, want %+v", got, e)
			}
			d := DeleteRecord(&e)
			k, err := DecodeKey(d.Key)
			if d.Op != channel.Delete || err != nil || k.Addr != e.Addr || k.Ifname != e.Ifname {
				t.Fatalf("delete key: %+v %v", k, err)
			}
		})
	}
	e := codecCases()["ipv4"]
	if r := UpsertRecord(&e); len(r.Key)+len(r.Value) != 20 {
		t.Errorf("IPv4 on lan0 is %d bytes, want 20", len(r.Key)+len(r.Value))
	}
}

func TestCodecRejects(t *testing.T) {
	e := codecCases()["ipv4"]
	good := UpsertRecord(&e)
	mut := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	cases := map[string]struct{ key, value []byte }{
		"key version":      {mut(good.Key, 0, 2), good.Value},
		"family":           {mut(good.Key, 1, 5), good.Value},
		"empty name":       {mut(good.Key, 2, 0), good.Value},
		"name too long":    {mut(good.Key, 2, 16), good.Value},
		"name with slash":  {mut(good.Key, 3, '/'), good.Value},
		"short key":        {good.Key[:len(good.Key)-1], good.Value},
		"trailing key":     {append(bytes.Clone(good.Key), 0), good.Value},
		"value version":    {good.Key, mut(good.Value, 0, 0)},
		"unknown flag":     {good.Key, mut(good.Value, 1, 2)},
		"empty lladdr":     {good.Key, []byte{1, 0, 0}},
		"truncated lladdr": {good.Key, good.Value[:len(good.Value)-1]},
		"empty":            {nil, nil},
	}
	for name, c := range cases {
		if _, err := Decode(c.key, c.value); !errors.Is(err, ErrCodec) {
			t.Errorf("%s: err = %v, want ErrCodec", name, err)
		}
	}
}

// FuzzDecode: the decoder never panics and accepts only canonical records.
func FuzzDecode(f *testing.F) {
	for _, e := range codecCases() {
		r := UpsertRecord(&e)
		f.Add(r.Key, r.Value)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		e, err := Decode(key, value)
		if err != nil {
			if !errors.Is(err, ErrCodec) {
				t.Fatalf("error %v does not wrap ErrCodec", err)
			}
			return
		}
		r := UpsertRecord(&e)
		if !bytes.Equal(r.Key, key) || !bytes.Equal(r.Value, value) {
			t.Fatalf("non-canonical record accepted: %x/%x -> %x/%x", key, value, r.Key, r.Value)
		}
	})
}
