package expect

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

var (
	ones4 = netip.MustParseAddr("255.255.255.255")
	cli4  = netip.MustParseAddr("192.0.2.10")
	srv4  = netip.MustParseAddr("198.51.100.20")
	cli6  = netip.MustParseAddr("2001:db8::10")
	srv6  = netip.MustParseAddr("2001:db8:1::20")
)

func codecCases() map[string]Expectation {
	pasv := Expectation{
		Master: Tuple{Src: cli4, Dst: srv4, Proto: 6, SrcPort: 40000, DstPort: 21},
		Tuple:  Tuple{Src: cli4, Dst: srv4, Proto: 6, DstPort: 50123}, MaskAddr: ones4,
		Timeout: 300, Helper: "ftp",
	}
	nat := pasv
	nat.Fn = "nat-follow-master"
	nat.NAT = &NAT{Dir: 1, Addr: netip.MustParseAddr("203.0.113.1"), Port: 50123}
	ipv6 := Expectation{
		Zone:   3,
		Master: Tuple{Src: cli6, Dst: srv6, Proto: 6, SrcPort: 40000, DstPort: 21},
		Tuple:  Tuple{Src: netip.IPv6Unspecified(), Dst: cli6, Proto: 6, DstPort: 1234}, MaskAddr: netip.IPv6Unspecified(),
		Timeout: 299, Helper: "ftp",
	}
	sip := Expectation{
		Master: Tuple{Src: cli4, Dst: srv4, Proto: 17, SrcPort: 5060, DstPort: 5060},
		Tuple:  Tuple{Src: srv4, Dst: cli4, Proto: 17, DstPort: 16384}, MaskAddr: ones4,
		Timeout: 180, Helper: "sip", Class: 1, Flags: 2,
	}
	gre := Expectation{
		Master: Tuple{Src: cli4, Dst: srv4, Proto: 6, SrcPort: 40001, DstPort: 1723},
		Tuple:  Tuple{Src: srv4, Dst: cli4, Proto: 47, SrcPort: 7, DstPort: 9}, MaskAddr: ones4, MaskPort: 0xffff,
		Timeout: 1, Helper: "pptp",
	}
	return map[string]Expectation{"ftp pasv": pasv, "ftp pasv nat": nat, "ipv6 port": ipv6, "sip rtp": sip, "pptp gre": gre}
}

// SPEC SYNC-2: an expectation (ALG state) survives the codec.
func TestCodecRoundTripSYNC2(t *testing.T) {
	for name, x := range codecCases() {
		t.Run(name, func(t *testing.T) {
			r := UpsertRecord(&x)
			got, err := Decode(r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, x) {
				t.Fatalf("got %+v, want %+v", got, x)
			}
			d := DeleteRecord(&x)
			k, _, err := DecodeKey(d.Key)
			if d.Op != channel.Delete || err != nil || k.Tuple != x.Tuple || k.Zone != x.Zone {
				t.Fatalf("delete key: %+v %v", k, err)
			}
		})
	}
}

func TestCodecRejects(t *testing.T) {
	x := codecCases()["ftp pasv nat"]
	good := UpsertRecord(&x)
	mut := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	cases := map[string]struct{ key, value []byte }{
		"key version":     {mut(good.Key, 0, 2), good.Value},
		"family":          {mut(good.Key, 1, 5), good.Value},
		"icmp":            {mut(good.Key, 2, 1), good.Value},
		"short key":       {good.Key[:len(good.Key)-1], good.Value},
		"value version":   {good.Key, mut(good.Value, 0, 0)},
		"unknown fields":  {good.Key, mut(good.Value, 1, 0x80)},
		"master proto 0":  {good.Key, mut(good.Value, 2, 0)},
		"trailing value":  {good.Key, append(bytes.Clone(good.Value), 0)},
		"truncated value": {good.Key, good.Value[:len(good.Value)-1]},
		"nat direction":   {good.Key, mut(good.Value, len(good.Value)-7, 2)},
		"empty":           {nil, nil},
	}
	for name, c := range cases {
		if _, err := Decode(c.key, c.value); !errors.Is(err, ErrCodec) {
			t.Errorf("%s: err = %v, want ErrCodec", name, err)
		}
	}
}

// FuzzDecode: the decoder never panics and accepts only canonical records.
func FuzzDecode(f *testing.F) {
	for _, x := range codecCases() {
		r := UpsertRecord(&x)
		f.Add(r.Key, r.Value)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		x, err := Decode(key, value)
		if err != nil {
			if !errors.Is(err, ErrCodec) {
				t.Fatalf("error %v does not wrap ErrCodec", err)
			}
			return
		}
		r := UpsertRecord(&x)
		if !bytes.Equal(r.Key, key) || !bytes.Equal(r.Value, value) {
			t.Fatalf("non-canonical record accepted: %x/%x -> %x/%x", key, value, r.Key, r.Value)
		}
	})
}
