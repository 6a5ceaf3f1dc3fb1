package route

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

func codecCases() map[string]Route {
	return map[string]Route{
		"ipv4 ospf": {Table: 254, Dst: netip.MustParsePrefix("10.50.0.0/16"), Priority: 20, Protocol: 188,
			Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("10.9.0.2"), Ifname: "lan0", Weight: 1}}},
		"ipv4 default tos": {Table: 254, Dst: netip.MustParsePrefix("0.0.0.0/0"), TOS: 0x10, Protocol: 189,
			Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("192.0.2.1"), Ifname: "wan.100", Weight: 1}}},
		"ipv4 on link": {Table: 254, Dst: netip.MustParsePrefix("198.51.100.0/24"), Priority: 1, Protocol: 12, Scope: 253,
			Nexthops: []Nexthop{{Ifname: "x0", Weight: 1}}},
		"ipv4 multipath": {Table: 254, Dst: netip.MustParsePrefix("10.60.0.0/16"), Priority: 20, Protocol: 186,
			Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("10.9.0.2"), Ifname: "lan0", Weight: 1},
				{Gateway: netip.MustParseAddr("10.8.0.2"), Ifname: "abcdefghijklmno", Weight: 256}}},
		"ipv6 link-local gateway": {Table: 254, Dst: netip.MustParsePrefix("2001:db8:50::/48"), Priority: 1024, Protocol: 188,
			Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("fe80::1"), Ifname: "lan0", Weight: 1}}},
		"ipv6 host": {Table: 254, Dst: netip.MustParsePrefix("2001:db8::5/128"), Priority: 20, Protocol: 42,
			Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("2001:db8::1"), Ifname: "x1", Weight: 3}}},
	}
}

// SPEC SYNC-2: a dynamic route survives the codec.
//
// SPEC: SYNC-2
func TestCodecRoundTripSYNC2(t *testing.T) {
	for name, r := range codecCases() {
		t.Run(name, func(t *testing.T) {
			rec := UpsertRecord(&r)
			got, err := Decode(rec.Key, rec.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("got %+v, want %+v", got, r)
			}
			d := DeleteRecord(&r)
			k, err := DecodeKey(d.Key)
			if d.Op != channel.Delete || err != nil || k.Dst != r.Dst || k.Priority != r.Priority || k.TOS != r.TOS || k.Table != r.Table {
				t.Fatalf("delete key: %+v %v", k, err)
			}
		})
	}
	r := codecCases()["ipv4 ospf"]
	if rec := UpsertRecord(&r); len(rec.Key)+len(rec.Value) != 31 {
		t.Errorf("an IPv4 route via lan0 is %d bytes, want 31", len(rec.Key)+len(rec.Value))
	}
}

func TestCodecRejects(t *testing.T) {
	r := codecCases()["ipv4 ospf"]
	good := UpsertRecord(&r)
	r6 := codecCases()["ipv6 host"]
	good6 := UpsertRecord(&r6)
	mut := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	// Key: version 0, family 1, table 2-5, length 6, address 7-10 (v4), TOS 11, priority 12-15.
	// Value: version 0, protocol 1, scope 2, count 3, flags 4, weight 5, name length 6, name 7-10, gateway 11-14.
	cases := map[string]struct{ key, value []byte }{
		"key version":        {mut(good.Key, 0, 2), good.Value},
		"family":             {mut(good.Key, 1, 5), good.Value},
		"table":              {mut(good.Key, 5, 253), good.Value},
		"prefix too long":    {mut(good.Key, 6, 33), good.Value},
		"host bits":          {mut(good.Key, 9, 1), good.Value},
		"short key":          {good.Key[:len(good.Key)-1], good.Value},
		"trailing key":       {append(bytes.Clone(good.Key), 0), good.Value},
		"ipv6 tos":           {mut(good6.Key, 23, 1), good6.Value},
		"ipv6 priority 0":    {append(bytes.Clone(good6.Key[:len(good6.Key)-4]), 0, 0, 0, 0), good6.Value},
		"value version":      {good.Key, mut(good.Value, 0, 0)},
		"static protocol":    {good.Key, mut(good.Value, 1, 4)},
		"own protocol":       {good.Key, mut(good.Value, 1, Protocol)},
		"host scope":         {good.Key, mut(good.Value, 2, 254)},
		"no nexthop":         {good.Key, []byte{1, 188, 0, 0}},
		"more nexthops":      {good.Key, mut(good.Value, 3, 2)},
		"unknown hop flag":   {good.Key, mut(good.Value, 4, 2)},
		"empty name":         {good.Key, mut(good.Value, 6, 0)},
		"name too long":      {good.Key, mut(good.Value, 6, 16)},
		"name with slash":    {good.Key, mut(good.Value, 7, '/')},
		"unspecified gw":     {good.Key, append(bytes.Clone(good.Value[:11]), 0, 0, 0, 0)},
		"multicast gw":       {good.Key, append(bytes.Clone(good.Value[:11]), 224, 0, 0, 1)},
		"truncated gateway":  {good.Key, good.Value[:len(good.Value)-1]},
		"trailing value":     {good.Key, append(bytes.Clone(good.Value), 0)},
		"empty":              {nil, nil},
		"empty value":        {good.Key, nil},
		"ipv4 key, v6 value": {good.Key, good6.Value},
	}
	for name, c := range cases {
		if _, err := Decode(c.key, c.value); !errors.Is(err, ErrCodec) {
			t.Errorf("%s: err = %v, want ErrCodec", name, err)
		}
	}
}

func TestDynamic(t *testing.T) {
	for p, want := range map[uint8]bool{2: false, 3: false, 4: false, 9: false, 11: true, 12: true, 16: false, 18: false,
		42: true, 186: true, 188: true, 189: true, 190: true, 192: true, 196: false, Protocol: false} {
		if Dynamic(p) != want {
			t.Errorf("Dynamic(%d) = %v, want %v", p, !want, want)
		}
	}
}

// FuzzDecode: the decoder never panics and accepts only canonical records.
func FuzzDecode(f *testing.F) {
	for _, r := range codecCases() {
		rec := UpsertRecord(&r)
		f.Add(rec.Key, rec.Value)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := Decode(key, value)
		if err != nil {
			if !errors.Is(err, ErrCodec) {
				t.Fatalf("error %v does not wrap ErrCodec", err)
			}
			return
		}
		rec := UpsertRecord(&r)
		if !bytes.Equal(rec.Key, key) || !bytes.Equal(rec.Value, value) {
			t.Fatalf("non-canonical record accepted: %x/%x -> %x/%x", key, value, rec.Key, rec.Value)
		}
	})
}
