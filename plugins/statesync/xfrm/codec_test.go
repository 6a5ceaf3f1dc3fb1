package xfrm

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

var (
	gw4a = netip.MustParseAddr("192.0.2.1")
	gw4b = netip.MustParseAddr("198.51.100.1")
	gw6a = netip.MustParseAddr("2001:db8::1")
	gw6b = netip.MustParseAddr("2001:db8:1::1")
)

// xfrmStateESN is XFRM_STATE_ESN.
const xfrmStateESN = 128

func key(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// codecSAs covers every optional field of an SA.
func codecSAs() map[string]SA {
	full := SA{
		Dst: gw4b, SPI: 0xc0ffee01, Proto: ProtoESP, Mark: 5, MarkMask: 0xff,
		Src: gw4a, Mode: 1, ReqID: 7, Flags: 0x40 | xfrmStateESN, ExtraFlags: 1,
		Selector: Selector{Family: unix.AF_INET, Dst: netip.MustParseAddr("10.2.0.0"), Src: netip.MustParseAddr("10.1.0.0"),
			PrefixD: 16, PrefixS: 16, Proto: 6, DPort: 443, DPortMask: 0xffff},
		Lifetime: Lifetime{SoftBytes: 1 << 40, HardBytes: ^uint64(0), SoftPackets: ^uint64(0), HardPackets: ^uint64(0), SoftAdd: 3000, HardAdd: 3600},
		Current:  Current{Bytes: 123456789, Packets: 98765, AddTime: 1763770000, UseTime: 1763770005},
		Crypt:    &Algo{Name: "cbc(aes)", KeyBits: 256, Key: key(32, 0xa1)},
		Auth:     &Algo{Name: "hmac(sha256)", KeyBits: 256, Key: key(32, 0xb2), Extra: 128},
		Encap:    &Encap{Type: 2, SPort: 4500, DPort: 4500, OA: netip.IPv4Unspecified()},
		TFCPad:   32, OutputMark: 9, OutputMask: 0xf, IfID: 42, Dir: SADirOut,
		ESN:          &ReplayESN{OSeq: 0xfffffff0, OSeqHi: 3, Window: 0, Bitmap: []uint32{}},
		NATKeepalive: 20,
	}
	in6 := SA{
		Dst: gw6a, SPI: 0x1001, Proto: ProtoESP, Src: gw6b, Mode: 1, ReqID: 1, ReplayWindow: 32,
		Selector: Selector{Family: unix.AF_INET6, Dst: netip.IPv6Unspecified(), Src: netip.IPv6Unspecified()},
		AEAD:     &Algo{Name: "rfc4106(gcm(aes))", KeyBits: 160, Key: key(20, 0xc3), Extra: 128},
		Replay:   &Replay{Seq: 500, Bitmap: 0xffff0000}, Dir: SADirIn, MappingMaxAge: 60,
		Encap: &Encap{Type: 2, SPort: 4500, DPort: 4500, OA: netip.IPv6Unspecified()},
	}
	esnIn := SA{
		Dst: gw4a, SPI: 0x2002, Proto: ProtoESP, Src: gw4b, Mode: 0, Flags: xfrmStateESN,
		AEAD: &Algo{Name: "rfc4106(gcm(aes))", KeyBits: 288, Key: key(36, 0xd4), Extra: 128},
		ESN:  &ReplayESN{Seq: 77, SeqHi: 1, Window: 128, Bitmap: []uint32{1, 2, 3, 0x80000000}},
	}
	ah := SA{Dst: gw4a, SPI: 0x3003, Proto: ProtoAH, Src: gw4b, Auth: &Algo{Name: "hmac(sha1)", KeyBits: 160, Key: key(20, 1)},
		Replay: &Replay{OSeq: 10}}
	comp := SA{Dst: gw4a, SPI: 0x4004, Proto: ProtoComp, Src: gw4b, Comp: &Algo{Name: "deflate"}, Replay: &Replay{}}
	return map[string]SA{"esp out esn all fields": full, "esp in ipv6 aead": in6, "esp in esn": esnIn, "ah": ah, "ipcomp": comp}
}

func codecPolicies() map[string]Policy {
	out := Policy{
		Selector: Selector{Family: unix.AF_INET, Dst: netip.MustParseAddr("10.2.0.0"), Src: netip.MustParseAddr("10.1.0.0"), PrefixD: 16, PrefixS: 24},
		Dir:      DirOut, Priority: 1000, Mark: 1, MarkMask: 0xffffffff, IfID: 3,
		Lifetime: Lifetime{SoftBytes: ^uint64(0), HardBytes: ^uint64(0), SoftPackets: ^uint64(0), HardPackets: ^uint64(0)},
		Templates: []Template{{Family: unix.AF_INET, Dst: gw4b, Src: gw4a, Proto: ProtoESP, ReqID: 1, Mode: 1, AAlgos: ^uint32(0), EAlgos: ^uint32(0), CAlgos: ^uint32(0)},
			{Family: unix.AF_INET, Dst: gw4b, Src: gw4a, Proto: ProtoComp, Optional: 1}},
	}
	block := Policy{Selector: Selector{Family: unix.AF_INET6, Dst: gw6b, Src: netip.IPv6Unspecified(), PrefixD: 128, Proto: 17, DPort: 53, DPortMask: 0xffff},
		Dir: DirFwd, Type: 1, Action: 1}
	in6 := Policy{Selector: Selector{Family: unix.AF_INET6, Dst: netip.MustParseAddr("2001:db8:a::"), Src: netip.MustParseAddr("2001:db8:b::"), PrefixD: 48, PrefixS: 48},
		Dir: DirIn, Priority: 7,
		Templates: []Template{{Family: unix.AF_INET, Dst: gw4a, Src: gw4b, Proto: ProtoESP, ReqID: 9, Mode: 1, EAlgos: 0xff}}}
	return map[string]Policy{"out two templates": out, "fwd block sub ipv6": block, "in ipv6 over ipv4 tunnel": in6}
}

// SPEC SYNC-2: an SA with keys, lifetimes and anti-replay counters, and
// a policy with its templates, survive the codec.
func TestCodecRoundTripSYNC2(t *testing.T) {
	for name, sa := range codecSAs() {
		t.Run(name, func(t *testing.T) {
			r := SARecord(&sa)
			got, err := DecodeSA(r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, sa) {
				t.Fatalf("got  %+v\nwant %+v", got, sa)
			}
			if k, err := Kind(r.Key); err != nil || k != KindSA {
				t.Fatalf("Kind = %d, %v", k, err)
			}
		})
	}
	for name, p := range codecPolicies() {
		t.Run(name, func(t *testing.T) {
			r := PolicyRecord(&p)
			got, err := DecodePolicy(r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Fatalf("got  %+v\nwant %+v", got, p)
			}
		})
	}
}

func TestCodecRejects(t *testing.T) {
	sa := codecSAs()["ah"]
	good := SARecord(&sa)
	p := codecPolicies()["out two templates"]
	pol := PolicyRecord(&p)
	mut := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	saCases := map[string]struct{ key, value []byte }{
		"key version":     {mut(good.Key, 0, 2), good.Value},
		"kind":            {mut(good.Key, 1, KindPolicy), good.Value},
		"family":          {mut(good.Key, 2, 5), good.Value},
		"protocol":        {mut(good.Key, 3, 17), good.Value},
		"short key":       {good.Key[:len(good.Key)-1], good.Value},
		"value version":   {good.Key, mut(good.Value, 0, 0)},
		"unknown fields":  {good.Key, append([]byte{1, 0x80, 0x80, 0x01}, good.Value[2:]...)},
		"trailing value":  {good.Key, append(bytes.Clone(good.Value), 0)},
		"truncated value": {good.Key, good.Value[:len(good.Value)-1]},
		"empty":           {nil, nil},
	}
	for name, c := range saCases {
		if _, err := DecodeSA(c.key, c.value); !errors.Is(err, ErrCodec) {
			t.Errorf("SA %s: err = %v, want ErrCodec", name, err)
		}
	}
	polCases := map[string]struct{ key, value []byte }{
		"direction":       {mut(pol.Key, 2, 3), pol.Value},
		"no family":       {mut(pol.Key, 4, 0), pol.Value},
		"truncated value": {pol.Key, pol.Value[:len(pol.Value)-1]},
	}
	p7 := p
	for len(p7.Templates) < maxTemplates+1 {
		p7.Templates = append(p7.Templates, p.Templates[0])
	}
	r7 := PolicyRecord(&p7)
	polCases["seven templates"] = struct{ key, value []byte }{r7.Key, r7.Value}
	for name, c := range polCases {
		if _, err := DecodePolicy(c.key, c.value); !errors.Is(err, ErrCodec) {
			t.Errorf("policy %s: err = %v, want ErrCodec", name, err)
		}
	}
}

// decodeAny decodes a record of either kind and re-encodes it.
func decodeAny(key, value []byte) (channel.Record, error) {
	k, err := Kind(key)
	if err != nil {
		return channel.Record{}, err
	}
	if k == KindSA {
		sa, err := DecodeSA(key, value)
		if err != nil {
			return channel.Record{}, err
		}
		return SARecord(&sa), nil
	}
	p, err := DecodePolicy(key, value)
	if err != nil {
		return channel.Record{}, err
	}
	return PolicyRecord(&p), nil
}

// FuzzDecode feeds the decoders what a hostile or broken peer could
// send: they never panic and accept only canonical records.
func FuzzDecode(f *testing.F) {
	for _, sa := range codecSAs() {
		r := SARecord(&sa)
		f.Add(r.Key, r.Value)
	}
	for _, p := range codecPolicies() {
		r := PolicyRecord(&p)
		f.Add(r.Key, r.Value)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, err := decodeAny(key, value)
		if err != nil {
			if !errors.Is(err, ErrCodec) {
				t.Fatalf("error %v does not wrap ErrCodec", err)
			}
			return
		}
		if !bytes.Equal(r.Key, key) || !bytes.Equal(r.Value, value) {
			t.Fatalf("non-canonical record accepted: %x/%x -> %x/%x", key, value, r.Key, r.Value)
		}
	})
}

func TestMarginRuleSYNC2(t *testing.T) {
	if got := MarginFor(1_000_000, DefaultRefresh, DefaultLag); got != 2_500_000 || DefaultOSeqMargin != got {
		t.Errorf("MarginFor(1 Mpps, 1 s, 0.5 s) = %d (default %d), want 2,500,000", got, DefaultOSeqMargin)
	}
	if got := MarginFor(10, DefaultRefresh, 0); got != MinMargin {
		t.Errorf("a slow SA gets margin %d, want the floor %d", got, MinMargin)
	}
	sa := codecSAs()["ah"]
	m := WithMargin(sa, 1000)
	if m.Replay.OSeq != 1010 || sa.Replay.OSeq != 10 {
		t.Errorf("legacy oseq %d -> %d (original now %d), want 10 -> 1010 and the original untouched", sa.Replay.OSeq, m.Replay.OSeq, sa.Replay.OSeq)
	}
	sa.Replay.OSeq = 0xffffff00
	if m := WithMargin(sa, 1000); m.Replay.OSeq != 0xffffffff {
		t.Errorf("legacy oseq near the end: %#x, want it to stop at 0xffffffff rather than wrap", m.Replay.OSeq)
	}
	esn := codecSAs()["esp out esn all fields"]
	m = WithMargin(esn, 0x20)
	if m.ESN.OSeqHi != 4 || m.ESN.OSeq != 0x10 || esn.ESN.OSeqHi != 3 {
		t.Errorf("ESN oseq %d:%#x -> %d:%#x, want the carry into the high half", esn.ESN.OSeqHi, esn.ESN.OSeq, m.ESN.OSeqHi, m.ESN.OSeq)
	}
	in := codecSAs()["esp in ipv6 aead"]
	if m := WithMargin(in, 1000); !reflect.DeepEqual(m, in) {
		t.Errorf("an inbound SA was changed: %+v", m.Replay)
	}
}
