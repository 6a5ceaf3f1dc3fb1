package conntrack

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// TestParseFlow reads back what the kernel would send for each case.
func TestParseFlow(t *testing.T) {
	for name, f := range codecCases() {
		fam := uint8(unix.AF_INET)
		if f.Orig.Src.Is6() {
			fam = unix.AF_INET6
		}
		e := attrEncoder{b: eventMessage(&f)}
		if f.Zone != 0 {
			e.be16(ctaZone, f.Zone)
		}
		if len(f.Labels) > 0 {
			e.put(ctaLabels, f.Labels)
		}
		if f.Helper != "" {
			h := e.nest(ctaHelp)
			e.str(ctaHelpName, f.Helper)
			e.end(h)
		}
		got, err := parseFlow(fam, e.b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := f
		if want.TCP != nil { // the kernel reports the flags it has; putProtoinfo sends the install flags
			tcp := *want.TCP
			tcp.FlagsOrig = tcp.FlagsOrig&(TCPFlagWindowScale|TCPFlagSACKPerm|TCPFlagCloseInit) | TCPFlagBeLiberal | TCPFlagSACKPerm
			tcp.FlagsReply = tcp.FlagsReply&(TCPFlagWindowScale|TCPFlagSACKPerm|TCPFlagCloseInit) | TCPFlagBeLiberal | TCPFlagSACKPerm
			want.TCP = &tcp
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// FuzzParseFlow: the ctnetlink parser never panics on any attribute
// stream, and what it accepts has two tuples of one protocol.
func FuzzParseFlow(f *testing.F) {
	for _, fl := range codecCases() {
		fam := uint8(unix.AF_INET)
		if fl.Orig.Src.Is6() {
			fam = unix.AF_INET6
		}
		f.Add(fam, eventMessage(&fl))
	}
	f.Fuzz(func(t *testing.T, fam uint8, b []byte) {
		fl, err := parseFlow(fam, b)
		if err != nil {
			return
		}
		if !fl.Orig.Src.IsValid() || !fl.Reply.Dst.IsValid() || fl.Orig.Proto != fl.Reply.Proto {
			t.Fatalf("accepted an incomplete flow %+v", fl)
		}
	})
}
