package records

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/publish/wire"
)

func TestRecordErrorsNameFields(t *testing.T) {
	good := DHCPLease{Interface: "wan0", Address: netip.MustParsePrefix("10.0.0.5/24"), ServerID: netip.MustParseAddr("10.0.0.1"),
		ClientID: Hex{1, 2, 3}, Obtained: time.Now(), LeaseSeconds: 600, RenewSeconds: 300, RebindSeconds: 525}
	if _, err := good.Entry(); err != nil {
		t.Fatal(err)
	}
	for field, mod := range map[string]func(*DHCPLease){
		"address":       func(l *DHCPLease) { l.Address = netip.Prefix{} },
		"server_id":     func(l *DHCPLease) { l.ServerID = netip.Addr{} },
		"client_id":     func(l *DHCPLease) { l.ClientID = nil },
		"lease_seconds": func(l *DHCPLease) { l.LeaseSeconds = 0 },
		"interface":     func(l *DHCPLease) { l.Interface = "" },
	} {
		l := good
		mod(&l)
		if _, err := l.Entry(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: error %v does not name the field", field, err)
		}
	}
	e, _ := good.Entry()
	e.Key = "wan1"
	if _, err := DecodeDHCPLease(e); err == nil || !strings.Contains(err.Error(), "interface") {
		t.Errorf("key mismatch: %v", err)
	}
	e.Type = TypePPPoESession
	if _, err := DecodeDHCPLease(e); err == nil || !strings.Contains(err.Error(), "type") {
		t.Errorf("type mismatch: %v", err)
	}
}

// FuzzDecode feeds the record decoders with what a peer or a service may
// have published: they never panic, and what they accept re-encodes.
func FuzzDecode(f *testing.F) {
	l := DHCPLease{Interface: "wan0", Address: netip.MustParsePrefix("10.0.0.5/24"), ServerID: netip.MustParseAddr("10.0.0.1"),
		ClientID: Hex{1, 2, 3}, Obtained: time.Unix(1700000000, 0), LeaseSeconds: 600, RenewSeconds: 300, RebindSeconds: 525}
	e, _ := l.Entry()
	f.Add(e.Key, e.Value)
	d := DNSCacheEntry{Name: "a.example.", Type: 1, Class: 1, Expires: time.Unix(1700000000, 0), Answers: []DNSResource{{Name: "a.example.", Type: 1, TTL: 60, Data: []byte{192, 0, 2, 1}}}}
	e, _ = d.Entry()
	f.Add(e.Key, e.Value)
	p := PPPoESession{Interface: "wan0", SessionID: 7, ServerMAC: "02:00:00:00:00:01", ClientMAC: "02:00:00:00:00:02", ServerName: "ac"}
	e, _ = p.Entry()
	f.Add(e.Key, e.Value)
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		if v, err := DecodeDHCPLease(wire.Entry{Key: key, Type: TypeDHCPLease, Value: value}); err == nil {
			if _, err := v.Entry(); err != nil {
				t.Fatalf("accepted lease does not re-encode: %v", err)
			}
		}
		if v, err := DecodeDNSCacheEntry(wire.Entry{Key: key, Type: TypeDNSCache, Value: value}); err == nil {
			if _, err := v.Entry(); err != nil {
				t.Fatalf("accepted DNS entry does not re-encode: %v", err)
			}
		}
		if v, err := DecodePPPoESession(wire.Entry{Key: key, Type: TypePPPoESession, Value: value}); err == nil {
			if _, err := v.Entry(); err != nil {
				t.Fatalf("accepted session does not re-encode: %v", err)
			}
		}
		if v, err := DecodeDHCPServerLease(wire.Entry{Key: key, Type: TypeDHCPServerLease, Value: value}); err == nil {
			if _, err := v.Entry(); err != nil {
				t.Fatalf("accepted server lease does not re-encode: %v", err)
			}
		}
	})
}
