package conntrack

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
)

var (
	v4a = netip.MustParseAddr("192.0.2.10")
	v4b = netip.MustParseAddr("198.51.100.20")
	v4n = netip.MustParseAddr("203.0.113.1")
	v6a = netip.MustParseAddr("2001:db8::10")
	v6b = netip.MustParseAddr("2001:db8:1::20")
)

const established = StatusConfirmed | StatusSeenReply | StatusAssured

func tcpFlow(src, dst netip.Addr, sport, dport uint16) Flow {
	o := Tuple{Src: src, Dst: dst, Proto: ProtoTCP, SrcPort: sport, DstPort: dport}
	return Flow{Orig: o, Reply: o.Inverse(), Status: established, Timeout: 431999,
		TCP: &TCPInfo{State: TCPEstablished, WScaleOrig: 7, WScaleReply: 7, FlagsOrig: 0x23, FlagsReply: 0x23}}
}

// codecCases covers every protocol, NAT shape and optional field.
func codecCases() map[string]Flow {
	snat := tcpFlow(v4a, v4b, 40001, 443)
	snat.Reply.Dst, snat.Reply.DstPort = v4n, 61000
	snat.Status |= StatusSrcNAT | StatusSrcNATDone | StatusDstNATDone
	dnat := tcpFlow(v4a, v4n, 40000, 80)
	dnat.Reply.Src, dnat.Reply.SrcPort = v4b, 8080
	dnat.Status |= StatusDstNAT
	full := tcpFlow(v6a, v6b, 1, 65535)
	full.Zone, full.Mark, full.Helper = 7, 0xdeadbeef, "ftp"
	full.Labels = []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80}
	udp6 := Flow{Orig: Tuple{Src: v6a, Dst: v6b, Proto: ProtoUDP, SrcPort: 5353, DstPort: 53}, Status: StatusConfirmed, Timeout: 30}
	udp6.Reply = udp6.Orig.Inverse()
	icmp := Flow{Orig: Tuple{Src: v4a, Dst: v4b, Proto: ProtoICMP, ICMPID: 0x1234, ICMPType: 8}, Status: StatusConfirmed | StatusSeenReply, Timeout: 29}
	icmp.Reply = icmp.Orig.Inverse()
	icmpNAT := icmp
	icmpNAT.Orig.ICMPID = 0x1235
	icmpNAT.Reply = icmpNAT.Orig.Inverse()
	icmpNAT.Reply.Dst, icmpNAT.Reply.ICMPID = v4n, 0x4321
	icmp6 := Flow{Orig: Tuple{Src: v6a, Dst: v6b, Proto: ProtoICMPv6, ICMPID: 9, ICMPType: 128}, Status: StatusConfirmed, Timeout: 30}
	icmp6.Reply = icmp6.Orig.Inverse()
	gre := Flow{Orig: Tuple{Src: v4a, Dst: v4b, Proto: ProtoGRE, SrcPort: 1, DstPort: 2}, Status: established, Timeout: 180}
	gre.Reply = gre.Orig.Inverse()
	esp := Flow{Orig: Tuple{Src: v4a, Dst: v4b, Proto: ProtoESP}, Status: established, Timeout: 600}
	esp.Reply = esp.Orig.Inverse()
	sctp := Flow{Orig: Tuple{Src: v4a, Dst: v4b, Proto: ProtoSCTP, SrcPort: 3868, DstPort: 3868}, Status: established, Timeout: 210,
		SCTP: &SCTPInfo{State: 3, VTagOrig: 0x01020304, VTagReply: 0xa0b0c0d0}}
	sctp.Reply = sctp.Orig.Inverse()
	dccp := Flow{Orig: Tuple{Src: v4a, Dst: v4b, Proto: ProtoDCCP, SrcPort: 5001, DstPort: 5002}, Status: established, Timeout: 100,
		DCCP: &DCCPInfo{State: 3, Role: 1, HandshakeSeq: 1<<47 + 5}}
	dccp.Reply = dccp.Orig.Inverse()
	lite := Flow{Orig: Tuple{Src: v6a, Dst: v6b, Proto: ProtoUDPLite, SrcPort: 9, DstPort: 10}, Status: StatusConfirmed, Timeout: 30}
	lite.Reply = lite.Orig.Inverse()
	return map[string]Flow{
		"tcp4 plain": tcpFlow(v4a, v4b, 40000, 443), "tcp4 snat": snat, "tcp4 dnat": dnat, "tcp6 all fields": full,
		"udp6": udp6, "icmp": icmp, "icmp snat id": icmpNAT, "icmpv6": icmp6, "gre": gre, "esp": esp,
		"sctp": sctp, "dccp": dccp, "udplite": lite,
	}
}

// SPEC SYNC-1: every field needed to recreate an entry survives the codec.
func TestCodecRoundTripSYNC1(t *testing.T) {
	for name, f := range codecCases() {
		t.Run(name, func(t *testing.T) {
			r := UpsertRecord(&f)
			got, err := Decode(r.Key, r.Value)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			f.Start = 0
			if !reflect.DeepEqual(got, f) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, f)
			}
			d := DeleteRecord(&f)
			if d.Op != channel.Delete || !bytes.Equal(d.Key, r.Key) || d.Value != nil {
				t.Fatalf("delete record %+v does not match upsert key", d)
			}
			orig, zone, _, err := DecodeKey(d.Key)
			if err != nil || orig != f.Orig || zone != f.Zone {
				t.Fatalf("DecodeKey = %v %d %v", orig, zone, err)
			}
		})
	}
}

// The goal is at most 50 bytes on the wire per update; a plain IPv4 TCP
// update is far below it and NAT costs only the translated tuple.
func TestCodecSize(t *testing.T) {
	cases := codecCases()
	for name, max := range map[string]int{"tcp4 plain": 32, "tcp4 snat": 45, "udp6": 50} {
		f := cases[name]
		r := UpsertRecord(&f)
		if n := len(r.Key) + len(r.Value); n > max {
			t.Errorf("%s: key+value %d bytes, want <= %d", name, n, max)
		}
	}
}

func TestCodecRejects(t *testing.T) {
	f := codecCases()["tcp4 snat"]
	good := UpsertRecord(&f)
	udp := codecCases()["udp6"]
	udpRec := UpsertRecord(&udp)
	mut := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	cases := map[string]struct{ key, value []byte }{
		"key version":        {mut(good.Key, 0, 2), good.Value},
		"value version":      {good.Key, mut(good.Value, 0, 9)},
		"family":             {mut(good.Key, 1, 5), good.Value},
		"unsupported proto":  {mut(good.Key, 2, 41), good.Value},
		"unknown bits":       {good.Key, mut(good.Value, 1, good.Value[1]|0x80)},
		"short key":          {good.Key[:len(good.Key)-1], good.Value},
		"trailing key":       {append(bytes.Clone(good.Key), 0), good.Value},
		"trailing value":     {good.Key, append(bytes.Clone(good.Value), 0)},
		"truncated value":    {good.Key, good.Value[:len(good.Value)-1]},
		"tcp info on udp":    {udpRec.Key, mut(udpRec.Value, 1, fieldTCP)},
		"non-minimal varint": {good.Key, append([]byte{1, 0, 0x80, 0x00}, good.Value[3:]...)},
		"empty":              {nil, nil},
	}
	for name, c := range cases {
		if _, err := Decode(c.key, c.value); !errors.Is(err, ErrCodec) {
			t.Errorf("%s: Decode err = %v, want ErrCodec", name, err)
		}
	}
}

// FuzzDecode feeds the decoder what a hostile or broken peer could send.
// It must never panic, and whatever it accepts must re-encode to the same
// bytes (the encoding is canonical, so keys compare byte-wise).
func FuzzDecode(f *testing.F) {
	for _, fl := range codecCases() {
		r := UpsertRecord(&fl)
		f.Add(r.Key, r.Value)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		fl, err := Decode(key, value)
		if err != nil {
			if !errors.Is(err, ErrCodec) {
				t.Fatalf("error %v does not wrap ErrCodec", err)
			}
			return
		}
		r := UpsertRecord(&fl)
		if !bytes.Equal(r.Key, key) || !bytes.Equal(r.Value, value) {
			t.Fatalf("accepted a non-canonical record\n key %x -> %x\n value %x -> %x", key, r.Key, value, r.Value)
		}
	})
}
