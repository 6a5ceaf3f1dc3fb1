// Package records defines the entry formats of the published channels
// that tandem's lab services and third-party services share: the DHCP
// client lease (SYNC-8), DNS proxy cache entries (SYNC-9), the PPPoE
// session (SYNC-10) and DHCP server leases (SYNC-11). Each is a JSON
// object in the entry's Value, named by the entry's Type; decoding checks
// every field and names the one at fault.
package records

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/publish/wire"
)

// Entry types.
const (
	TypeDHCPLease       = "tandem.dhcp-lease.v1"
	TypeDNSCache        = "tandem.dns-cache.v1"
	TypePPPoESession    = "tandem.pppoe-session.v1"
	TypeDHCPServerLease = "tandem.dhcp-server-lease.v1"
)

// Hex is bytes shown as hex in JSON (client ids).
type Hex []byte

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hex) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	*h = v
	return err
}

// DHCPLease is a DHCP client's lease on a WAN interface (SYNC-8); the key
// is the interface's name.
type DHCPLease struct {
	// Interface is the WAN interface the lease is on.
	Interface string `json:"interface"`
	// Address is the leased address with the subnet's prefix length.
	Address netip.Prefix `json:"address"`
	// Gateway is the first router option; may be absent.
	Gateway netip.Addr `json:"gateway,omitzero"`
	// DNS are the DNS server options.
	DNS []netip.Addr `json:"dns,omitempty"`
	// Domain is the domain name option.
	Domain string `json:"domain,omitempty"`
	// ServerID is the DHCP server identifier that granted the lease.
	ServerID netip.Addr `json:"server_id"`
	// ClientID is the client identifier option the lease is bound to; the
	// new active renews with it.
	ClientID Hex `json:"client_id"`
	// HardwareAddr is the MAC the lease was obtained with.
	HardwareAddr string `json:"hardware_addr,omitempty"`
	// Obtained is when the server last acknowledged the lease.
	Obtained time.Time `json:"obtained"`
	// LeaseSeconds, RenewSeconds and RebindSeconds are the lease time, T1
	// and T2, counted from Obtained.
	LeaseSeconds  uint32 `json:"lease_seconds"`
	RenewSeconds  uint32 `json:"renew_seconds"`
	RebindSeconds uint32 `json:"rebind_seconds"`
}

// Expires is when the lease ends unless renewed.
func (l *DHCPLease) Expires() time.Time {
	return l.Obtained.Add(time.Duration(l.LeaseSeconds) * time.Second)
}

// Check verifies the lease's fields.
func (l *DHCPLease) Check() error {
	switch {
	case l.Interface == "" || len(l.Interface) > 15:
		return fieldErr("interface", "%q, want an interface name of 1..15 bytes", l.Interface)
	case !l.Address.IsValid() || !l.Address.Addr().Is4():
		return fieldErr("address", "%v is not an IPv4 address with a prefix length", l.Address)
	case l.Gateway.IsValid() && !l.Gateway.Is4():
		return fieldErr("gateway", "%v is not an IPv4 address", l.Gateway)
	case !l.ServerID.IsValid() || !l.ServerID.Is4():
		return fieldErr("server_id", "%v is not an IPv4 address", l.ServerID)
	case len(l.ClientID) < 2 || len(l.ClientID) > 255:
		return fieldErr("client_id", "%d bytes, want 2..255", len(l.ClientID))
	case l.Obtained.IsZero():
		return fieldErr("obtained", "missing")
	case l.LeaseSeconds == 0:
		return fieldErr("lease_seconds", "0")
	case l.RenewSeconds > l.LeaseSeconds || l.RebindSeconds > l.LeaseSeconds:
		return fieldErr("renew_seconds", "T1 %d and T2 %d must not exceed the lease time %d", l.RenewSeconds, l.RebindSeconds, l.LeaseSeconds)
	}
	for i, a := range l.DNS {
		if !a.IsValid() {
			return fieldErr(fmt.Sprintf("dns[%d]", i), "not an address")
		}
	}
	if l.HardwareAddr != "" {
		if _, err := net.ParseMAC(l.HardwareAddr); err != nil {
			return fieldErr("hardware_addr", "%v", err)
		}
	}
	return nil
}

// Entry encodes the lease for publication.
func (l *DHCPLease) Entry() (wire.Entry, error) { return encode(l.Interface, TypeDHCPLease, l) }

// DecodeDHCPLease decodes and checks a published lease.
func DecodeDHCPLease(e wire.Entry) (DHCPLease, error) {
	var l DHCPLease
	err := decode(e, TypeDHCPLease, &l)
	if err == nil && l.Interface != e.Key {
		err = fieldErr("interface", "%q differs from the entry's key %q", l.Interface, e.Key)
	}
	return l, err
}

// DNSResource is one resource record of a cached answer: its owner name,
// type, TTL as received, and RDATA in uncompressed wire format.
type DNSResource struct {
	Name string `json:"name"`
	Type uint16 `json:"type"`
	TTL  uint32 `json:"ttl"`
	Data []byte `json:"rdata"`
}

// DNSCacheEntry is a DNS proxy's cached answer to one question (SYNC-9);
// the key is DNSKey(Name, Type, Class).
type DNSCacheEntry struct {
	Name  string `json:"name"`
	Type  uint16 `json:"type"`
	Class uint16 `json:"class"`
	// RCode is the answer's response code (0, or 3 for a cached NXDOMAIN).
	RCode uint16 `json:"rcode,omitempty"`
	// Expires is when the entry leaves the cache: when it was cached plus
	// the smallest TTL.
	Expires time.Time `json:"expires"`
	// Answers is the answer section.
	Answers []DNSResource `json:"answers,omitempty"`
}

// DNSKey is the key of the cache entry for a question: the lower-case
// fully qualified name, type and class ("www.example.com./1/1").
func DNSKey(name string, typ, class uint16) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return fmt.Sprintf("%s/%d/%d", name, typ, class)
}

// Check verifies the entry's fields.
func (d *DNSCacheEntry) Check() error {
	if d.Name == "" || len(d.Name) > 255 {
		return fieldErr("name", "%d bytes, want 1..255", len(d.Name))
	}
	if d.Expires.IsZero() {
		return fieldErr("expires", "missing")
	}
	if len(d.Answers) > 256 {
		return fieldErr("answers", "%d records, at most 256", len(d.Answers))
	}
	for i, a := range d.Answers {
		if a.Name == "" || len(a.Name) > 255 {
			return fieldErr(fmt.Sprintf("answers[%d].name", i), "%d bytes, want 1..255", len(a.Name))
		}
		if len(a.Data) > 65535 {
			return fieldErr(fmt.Sprintf("answers[%d].rdata", i), "%d bytes, at most 65535", len(a.Data))
		}
	}
	return nil
}

// Entry encodes the cache entry for publication.
func (d *DNSCacheEntry) Entry() (wire.Entry, error) {
	return encode(DNSKey(d.Name, d.Type, d.Class), TypeDNSCache, d)
}

// DecodeDNSCacheEntry decodes and checks a published cache entry.
func DecodeDNSCacheEntry(e wire.Entry) (DNSCacheEntry, error) {
	var d DNSCacheEntry
	err := decode(e, TypeDNSCache, &d)
	if err == nil && DNSKey(d.Name, d.Type, d.Class) != e.Key {
		err = fieldErr("name", "%q/%d/%d does not match the entry's key %q", d.Name, d.Type, d.Class, e.Key)
	}
	return d, err
}

// PPPoESession is a PPPoE client's session (SYNC-10); the key is the
// interface's name.
type PPPoESession struct {
	// Interface is the Ethernet interface the session runs on.
	Interface string `json:"interface"`
	// SessionID is the session id the access concentrator assigned.
	SessionID uint16 `json:"session_id"`
	// ServerMAC is the access concentrator's MAC address.
	ServerMAC string `json:"server_mac"`
	// ServerName is the AC-Name tag of its offer.
	ServerName string `json:"server_name"`
	// ServiceName is the Service-Name the session was opened for.
	ServiceName string `json:"service_name,omitempty"`
	// ClientMAC is the MAC the session was opened from.
	ClientMAC string `json:"client_mac"`
	// Established is when the session was confirmed (PADS).
	Established time.Time `json:"established"`
}

// Check verifies the session's fields.
func (p *PPPoESession) Check() error {
	switch {
	case p.Interface == "" || len(p.Interface) > 15:
		return fieldErr("interface", "%q, want an interface name of 1..15 bytes", p.Interface)
	case p.SessionID == 0 || p.SessionID == 0xffff:
		return fieldErr("session_id", "%#x is reserved", p.SessionID)
	case len(p.ServerName) > 255:
		return fieldErr("server_name", "%d bytes, at most 255", len(p.ServerName))
	case len(p.ServiceName) > 255:
		return fieldErr("service_name", "%d bytes, at most 255", len(p.ServiceName))
	}
	for _, m := range []struct{ field, v string }{{"server_mac", p.ServerMAC}, {"client_mac", p.ClientMAC}} {
		hw, err := net.ParseMAC(m.v)
		if err != nil || len(hw) != 6 {
			return fieldErr(m.field, "%q is not an Ethernet MAC address", m.v)
		}
	}
	return nil
}

// Entry encodes the session for publication.
func (p *PPPoESession) Entry() (wire.Entry, error) { return encode(p.Interface, TypePPPoESession, p) }

// DecodePPPoESession decodes and checks a published session.
func DecodePPPoESession(e wire.Entry) (PPPoESession, error) {
	var p PPPoESession
	err := decode(e, TypePPPoESession, &p)
	if err == nil && p.Interface != e.Key {
		err = fieldErr("interface", "%q differs from the entry's key %q", p.Interface, e.Key)
	}
	return p, err
}

// DHCPServerLease is a lease a DHCP server granted (SYNC-2, synced
// periodically by SYNC-11); the key is the address.
type DHCPServerLease struct {
	Address      netip.Addr `json:"address"`
	HardwareAddr string     `json:"hardware_addr"`
	ClientID     Hex        `json:"client_id,omitempty"`
	Hostname     string     `json:"hostname,omitempty"`
	Expires      time.Time  `json:"expires"`
}

// Check verifies the lease's fields.
func (d *DHCPServerLease) Check() error {
	if !d.Address.IsValid() {
		return fieldErr("address", "missing")
	}
	if _, err := net.ParseMAC(d.HardwareAddr); err != nil {
		return fieldErr("hardware_addr", "%v", err)
	}
	if len(d.Hostname) > 255 {
		return fieldErr("hostname", "%d bytes, at most 255", len(d.Hostname))
	}
	if d.Expires.IsZero() {
		return fieldErr("expires", "missing")
	}
	return nil
}

// Entry encodes the lease for publication.
func (d *DHCPServerLease) Entry() (wire.Entry, error) {
	return encode(d.Address.String(), TypeDHCPServerLease, d)
}

// DecodeDHCPServerLease decodes and checks a published server lease.
func DecodeDHCPServerLease(e wire.Entry) (DHCPServerLease, error) {
	var d DHCPServerLease
	err := decode(e, TypeDHCPServerLease, &d)
	if err == nil && d.Address.String() != e.Key {
		err = fieldErr("address", "%v differs from the entry's key %q", d.Address, e.Key)
	}
	return d, err
}

// checker is a record that verifies itself.
type checker interface{ Check() error }

func encode(key, typ string, v checker) (wire.Entry, error) {
	if err := v.Check(); err != nil {
		return wire.Entry{}, fmt.Errorf("%s: %w", typ, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return wire.Entry{}, fmt.Errorf("%s: %w", typ, err)
	}
	e := wire.Entry{Key: key, Type: typ, Value: b}
	if err := e.Check("entry"); err != nil {
		return wire.Entry{}, fmt.Errorf("%s: %w", typ, err)
	}
	return e, nil
}

func decode(e wire.Entry, typ string, v checker) error {
	if e.Type != typ {
		return fmt.Errorf("entry %q: type %q, want %q", e.Key, e.Type, typ)
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return fmt.Errorf("entry %q: %s: %w", e.Key, typ, err)
	}
	if err := v.Check(); err != nil {
		return fmt.Errorf("entry %q: %s: %w", e.Key, typ, err)
	}
	return nil
}

// FieldError is a record with a bad field.
type FieldError struct{ Field, Reason string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}
