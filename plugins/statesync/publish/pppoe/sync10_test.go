package pppoe_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/internal/netnstest"
	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/client"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/pppoe"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/publishtest"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/records"
)

// nsPrefix starts the names of the namespaces this package's tests create.
const nsPrefix = "pubpppoe"

// ac is a small access concentrator's discovery stage: it offers, grants
// session ids in order and records the PADTs it receives.
type ac struct {
	conn *pppoe.Conn
	mu   sync.Mutex
	next uint16
	open map[uint16]string // session id -> client MAC
	padt []string          // "id from mac", in order
	log  []string          // every packet, in order
}

const acName = "sync10-ac"

func (a *ac) serve() {
	for {
		p, from, err := a.conn.Recv(time.Now().Add(time.Hour))
		if err != nil {
			return
		}
		a.mu.Lock()
		a.log = append(a.log, pppoeCode(p.Code)+" from "+from.String())
		hu, _ := p.Tag(pppoe.TagHostUniq)
		svc, _ := p.Tag(pppoe.TagServiceName)
		tags := []pppoe.Tag{{Type: pppoe.TagServiceName, Value: svc}, {Type: pppoe.TagHostUniq, Value: hu}}
		var reply *pppoe.Packet
		switch p.Code {
		case pppoe.CodePADI:
			reply = &pppoe.Packet{Code: pppoe.CodePADO, Tags: append(tags, pppoe.Tag{Type: pppoe.TagACName, Value: []byte(acName)},
				pppoe.Tag{Type: pppoe.TagACCookie, Value: []byte("cookie-" + from.String())})}
		case pppoe.CodePADR:
			if c, _ := p.Tag(pppoe.TagACCookie); string(c) != "cookie-"+from.String() {
				break
			}
			a.next++
			a.open[a.next] = from.String()
			reply = &pppoe.Packet{Code: pppoe.CodePADS, SessionID: a.next, Tags: tags}
		case pppoe.CodePADT:
			a.padt = append(a.padt, sessionStr(p.SessionID)+" from "+from.String())
			if a.open[p.SessionID] == from.String() {
				delete(a.open, p.SessionID)
			}
		}
		a.mu.Unlock()
		if reply != nil {
			a.conn.Send(from, reply)
		}
	}
}

func pppoeCode(c uint8) string {
	return map[uint8]string{pppoe.CodePADI: "PADI", pppoe.CodePADO: "PADO", pppoe.CodePADR: "PADR",
		pppoe.CodePADS: "PADS", pppoe.CodePADT: "PADT"}[c]
}

func sessionStr(id uint16) string { return fmt.Sprintf("session %#04x", id) }

// TestPPPoETakeoverClosesOldSessionAndDials is SPEC SYNC-10: unit A dials
// a PPPoE session and publishes its id, server name and MAC; the stream
// carries it to unit B; after A dies, B closes the old session at the
// access concentrator with a PADT (the replicated session id, sent to the
// replicated server MAC, from the pair's virtual MAC) and dials a new
// session, which it publishes.
func TestPPPoETakeoverClosesOldSessionAndDials(t *testing.T) {
	netnstest.NeedRoot(t, "creates network namespaces, opens packet sockets", "ip")
	acNS, a, b := netnstest.New(t, nsPrefix, "ac"), netnstest.New(t, nsPrefix, "a"), netnstest.New(t, nsPrefix, "b")
	acNS.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	acNS.Run(t, "ip", "link", "set", "br0", "up")
	const vmac = "02:00:5e:10:00:01" // the pair's virtual MAC on the WAN
	for _, u := range []struct {
		ns   *netnstest.NS
		port string
	}{{a, "pa"}, {b, "pb"}} {
		netnstest.Run(t, "ip", "-n", u.ns.Name, "link", "add", "wan0", "address", vmac, "type", "veth", "peer", "name", u.port, "netns", acNS.Name)
		acNS.Run(t, "ip", "link", "set", u.port, "master", "br0")
		acNS.Run(t, "ip", "link", "set", u.port, "up")
	}
	a.Run(t, "ip", "link", "set", "wan0", "up") // B's WAN stays down while it is standby
	netnstest.Run(t, "ip", "-n", a.Name, "link", "add", "ha0", "type", "veth", "peer", "name", "ha0", "netns", b.Name)
	a.Run(t, "ip", "addr", "add", "169.254.78.1/30", "dev", "ha0")
	b.Run(t, "ip", "addr", "add", "169.254.78.2/30", "dev", "ha0")
	a.Run(t, "ip", "link", "set", "ha0", "up")
	b.Run(t, "ip", "link", "set", "ha0", "up")

	server := &ac{next: 0x2a00, open: map[uint16]string{}}
	var err error
	acNS.Do(t, func() { server.conn, err = pppoe.Open("br0") })
	if err != nil {
		t.Fatal(err)
	}
	defer server.conn.Close()
	go server.serve()
	acMAC := acNS.Run(t, "cat", "/sys/class/net/br0/address")

	pair := publishtest.NewPair(t, []publish.ChannelConfig{publish.DefaultChannel(publish.ChannelPPPoE)},
		publishtest.Options{ConnA: a.ListenUDP(t, "169.254.78.1:7036"), ConnB: b.ListenUDP(t, "169.254.78.2:7036")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Unit A dials and publishes.
	var ca *pppoe.Conn
	a.Do(t, func() { ca, err = pppoe.Open("wan0") })
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	first, err := ca.Dial(ctx, "internet")
	if err != nil {
		t.Fatal(err)
	}
	if first.ServerName != acName || first.ServerMAC+"\n" != acMAC || first.SessionID != 0x2a01 || first.ClientMAC != vmac {
		t.Fatalf("session %+v: want AC %s at %s, session 0x2a01 from %s", first, acName, acMAC, vmac)
	}
	pubA, err := client.Dial(ctx, pair.A.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer pubA.Close()
	e, err := first.Entry()
	if err != nil {
		t.Fatal(err)
	}
	if err := pubA.Upsert(ctx, publish.ChannelPPPoE, e); err != nil {
		t.Fatal(err)
	}
	pubB, err := client.Dial(ctx, pair.B.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer pubB.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, es, err := pubB.Get(ctx, publish.ChannelPPPoE)
		if err == nil && len(es) == 1 {
			got, err := records.DecodePPPoESession(es[0])
			if err != nil || got.SessionID != first.SessionID || got.ServerName != acName || got.ServerMAC != first.ServerMAC {
				t.Fatalf("replicated session %+v, %v; want %+v", got, err, first)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session did not reach the standby: %v %v", es, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A dies; B comes up on the WAN with the virtual MAC and takes over.
	pair.A.Stop()
	a.Run(t, "ip", "link", "set", "wan0", "down")
	b.Run(t, "ip", "link", "set", "wan0", "up")
	if err := pair.B.Takeover(ctx); err != nil {
		t.Fatal(err)
	}
	var cb *pppoe.Conn
	b.Do(t, func() { cb, err = pppoe.Open("wan0") })
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	old, second, err := pppoe.Takeover(ctx, cb, pubB, "")
	if err != nil {
		t.Fatal(err)
	}
	if old == nil || old.SessionID != first.SessionID {
		t.Fatalf("takeover found old session %+v, want %#x", old, first.SessionID)
	}
	if second.SessionID == first.SessionID || second.ServiceName != "internet" {
		t.Errorf("new session %+v: want a new id for service internet", second)
	}
	server.mu.Lock()
	padt, open, log := append([]string(nil), server.padt...), len(server.open), append([]string(nil), server.log...)
	_, oldOpen := server.open[first.SessionID]
	server.mu.Unlock()
	if len(padt) != 1 || padt[0] != sessionStr(first.SessionID)+" from "+vmac || oldOpen {
		t.Errorf("AC received PADTs %v (old session still open: %v), want one for %#x from %s", padt, oldOpen, first.SessionID, vmac)
	}
	if open != 1 {
		t.Errorf("AC holds %d sessions, want the new one only", open)
	}
	// The order on the wire: PADT of the old session before the new PADI.
	iPADT, iPADI := -1, -1
	for i, l := range log {
		if l == "PADT from "+vmac && iPADT < 0 {
			iPADT = i
		}
		if l == "PADI from "+vmac {
			iPADI = i
		}
	}
	if iPADT < 0 || iPADI < iPADT {
		t.Errorf("AC saw %v: want the PADT before the new discovery", log)
	}
	_, es, err := pubB.Get(ctx, publish.ChannelPPPoE)
	if err != nil || len(es) != 1 {
		t.Fatalf("published sessions on the new active: %v %v", es, err)
	}
	if got, _ := records.DecodePPPoESession(es[0]); got.SessionID != second.SessionID {
		t.Errorf("published session %#x, want the new %#x", got.SessionID, second.SessionID)
	}
}
