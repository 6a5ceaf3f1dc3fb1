// Package pppoe is the PPPoE discovery stage (RFC 2516) a PPPoE client of
// an HA pair needs for SPEC SYNC-10: Dial opens a session (PADI, PADO,
// PADR, PADS) and returns the record the active publishes on the "pppoe"
// channel (session id, access concentrator name and MAC, interface);
// Terminate sends the PADT that closes a session at the access
// concentrator; Takeover is what the new active does after a failover:
// close the old session server-side, from the replicated record, and
// dial a new one. PPP itself (LCP, authentication, IPCP) is not here:
// the session stage belongs to the PPP daemon.
package pppoe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mdlayher/packet"

	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/client"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/records"
)

// EtherTypeDiscovery is the EtherType of PPPoE discovery frames.
const EtherTypeDiscovery = 0x8863

// Discovery codes.
const (
	CodePADI = 0x09
	CodePADO = 0x07
	CodePADR = 0x19
	CodePADS = 0x65
	CodePADT = 0xa7
)

// Tag types.
const (
	TagEndOfList    = 0x0000
	TagServiceName  = 0x0101
	TagACName       = 0x0102
	TagHostUniq     = 0x0103
	TagACCookie     = 0x0104
	TagGenericError = 0x0203
)

// Tag is one discovery tag.
type Tag struct {
	Type  uint16
	Value []byte
}

// Packet is a discovery packet (the PPPoE header and its tags).
type Packet struct {
	Code      uint8
	SessionID uint16
	Tags      []Tag
}

// Tag returns the first tag of type typ.
func (p *Packet) Tag(typ uint16) ([]byte, bool) {
	for _, t := range p.Tags {
		if t.Type == typ {
			return t.Value, true
		}
	}
	return nil, false
}

// Marshal encodes the packet (without the Ethernet header).
func (p *Packet) Marshal() ([]byte, error) {
	b := []byte{0x11, p.Code, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], p.SessionID)
	for _, t := range p.Tags {
		if len(t.Value) > 0xffff {
			return nil, fmt.Errorf("pppoe: tag %#04x: %d bytes", t.Type, len(t.Value))
		}
		b = binary.BigEndian.AppendUint16(b, t.Type)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	if len(b)-6 > 1494 {
		return nil, fmt.Errorf("pppoe: payload of %d bytes exceeds 1494", len(b)-6)
	}
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-6))
	return b, nil
}

// Parse decodes a discovery packet; bytes after its length (Ethernet
// padding) are ignored.
func Parse(b []byte) (Packet, error) {
	var p Packet
	if len(b) < 6 {
		return p, errors.New("pppoe: short packet")
	}
	if b[0] != 0x11 {
		return p, fmt.Errorf("pppoe: version/type %#02x, want 0x11", b[0])
	}
	p.Code, p.SessionID = b[1], binary.BigEndian.Uint16(b[2:])
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n > len(b)-6 {
		return p, fmt.Errorf("pppoe: length %d beyond the %d bytes received", n, len(b)-6)
	}
	tags := b[6 : 6+n]
	for len(tags) > 0 {
		if len(tags) < 4 {
			return p, errors.New("pppoe: truncated tag header")
		}
		typ, l := binary.BigEndian.Uint16(tags), int(binary.BigEndian.Uint16(tags[2:]))
		if l > len(tags)-4 {
			return p, fmt.Errorf("pppoe: tag %#04x of %d bytes beyond the payload", typ, l)
		}
		if typ == TagEndOfList {
			break
		}
		p.Tags = append(p.Tags, Tag{Type: typ, Value: append([]byte(nil), tags[4:4+l]...)})
		tags = tags[4+l:]
	}
	return p, nil
}

// Conn is a discovery socket on one Ethernet interface.
type Conn struct {
	ifc *net.Interface
	pc  *packet.Conn
}

// Open opens a discovery socket on the interface (in the caller's
// network namespace).
func Open(iface string) (*Conn, error) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("pppoe: %w", err)
	}
	pc, err := packet.Listen(ifc, packet.Datagram, EtherTypeDiscovery, nil)
	if err != nil {
		return nil, fmt.Errorf("pppoe: packet socket on %s: %w", iface, err)
	}
	return &Conn{ifc: ifc, pc: pc}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return c.pc.Close() }

// Send sends p to the MAC dst.
func (c *Conn) Send(dst net.HardwareAddr, p *Packet) error {
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	_, err = c.pc.WriteTo(b, &packet.Addr{HardwareAddr: dst})
	return err
}

// Recv returns the next discovery packet and its source MAC, until the
// deadline.
func (c *Conn) Recv(deadline time.Time) (Packet, net.HardwareAddr, error) {
	_ = c.pc.SetReadDeadline(deadline)
	buf := make([]byte, 1500)
	for {
		n, from, err := c.pc.ReadFrom(buf)
		if err != nil {
			return Packet{}, nil, err
		}
		p, err := Parse(buf[:n])
		if err != nil {
			continue
		}
		return p, from.(*packet.Addr).HardwareAddr, nil
	}
}

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Dial opens a session for service (empty: any) with the first access
// concentrator that offers one, retrying each step up to three times.
func (c *Conn) Dial(ctx context.Context, service string) (records.PPPoESession, error) {
	uniq := make([]byte, 8)
	_, _ = rand.Read(uniq)
	svc := Tag{Type: TagServiceName, Value: []byte(service)}
	hu := Tag{Type: TagHostUniq, Value: uniq}
	ours := func(p *Packet) bool {
		v, ok := p.Tag(TagHostUniq)
		return ok && string(v) == string(uniq)
	}
	offer, ac, err := c.exchange(ctx, broadcast, &Packet{Code: CodePADI, Tags: []Tag{svc, hu}}, CodePADO, ours)
	if err != nil {
		return records.PPPoESession{}, fmt.Errorf("pppoe: discovery (PADI): %w", err)
	}
	name, _ := offer.Tag(TagACName)
	tags := []Tag{svc, hu}
	if cookie, ok := offer.Tag(TagACCookie); ok {
		tags = append(tags, Tag{Type: TagACCookie, Value: cookie})
	}
	conf, _, err := c.exchange(ctx, ac, &Packet{Code: CodePADR, Tags: tags}, CodePADS, ours)
	if err != nil {
		return records.PPPoESession{}, fmt.Errorf("pppoe: session request (PADR) to %v: %w", ac, err)
	}
	if e, ok := conf.Tag(TagGenericError); ok || conf.SessionID == 0 {
		return records.PPPoESession{}, fmt.Errorf("pppoe: %v refused the session: %q", ac, e)
	}
	s := records.PPPoESession{Interface: c.ifc.Name, SessionID: conf.SessionID, ServerMAC: ac.String(),
		ServerName: string(name), ServiceName: service, ClientMAC: c.ifc.HardwareAddr.String(), Established: time.Now()}
	return s, s.Check()
}

// exchange sends p to dst until a packet of code want that match accepts
// arrives.
func (c *Conn) exchange(ctx context.Context, dst net.HardwareAddr, p *Packet, want uint8, match func(*Packet) bool) (Packet, net.HardwareAddr, error) {
	var last error
	for try := 0; try < 3; try++ {
		if err := c.Send(dst, p); err != nil {
			return Packet{}, nil, err
		}
		deadline := time.Now().Add(time.Second << try)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		for {
			r, from, err := c.Recv(deadline)
			if err != nil {
				last = err
				break
			}
			if r.Code == want && match(&r) {
				return r, from, nil
			}
		}
		if ctx.Err() != nil {
			return Packet{}, nil, ctx.Err()
		}
	}
	return Packet{}, nil, fmt.Errorf("no answer after 3 tries: %w", last)
}

// Terminate sends the PADT that closes session s at its access
// concentrator (RFC 2516 5.5); it is not acknowledged.
func (c *Conn) Terminate(s records.PPPoESession) error {
	mac, err := net.ParseMAC(s.ServerMAC)
	if err != nil {
		return fmt.Errorf("pppoe: server_mac: %w", err)
	}
	return c.Send(mac, &Packet{Code: CodePADT, SessionID: s.SessionID,
		Tags: []Tag{{Type: TagGenericError, Value: []byte("HA failover: session taken over by the new active unit")}}})
}

// Takeover is the new active's SYNC-10 step for its interface: the session
// the old active published is closed at the access concentrator (PADT
// from the replicated session id to the replicated server MAC), a new
// session is dialled and published in its place.
func Takeover(ctx context.Context, c *Conn, pub *client.Client, service string) (old *records.PPPoESession, s records.PPPoESession, err error) {
	_, es, err := pub.Get(ctx, publish.ChannelPPPoE)
	if err != nil {
		return nil, s, err
	}
	for _, e := range es {
		if e.Key != c.ifc.Name {
			continue
		}
		o, err := records.DecodePPPoESession(e)
		if err != nil {
			return nil, s, fmt.Errorf("pppoe: replicated session: %w", err)
		}
		old = &o
		if err := c.Terminate(o); err != nil {
			return old, s, fmt.Errorf("pppoe: closing session %#x: %w", o.SessionID, err)
		}
		if o.ServiceName != "" && service == "" {
			service = o.ServiceName
		}
	}
	if s, err = c.Dial(ctx, service); err != nil {
		return old, s, err
	}
	e, err := s.Entry()
	if err == nil {
		err = pub.Upsert(ctx, publish.ChannelPPPoE, e)
	}
	return old, s, err
}
