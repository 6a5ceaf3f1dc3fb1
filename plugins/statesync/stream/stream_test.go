package stream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/channel"
	"github.com/tandem-ha/tandem/plugins/statesync/stream/frame"
)

// churn makes n changes on the active's channel: creations, updates, deletions.
func churn(ch *memChannel, rnd *rand.Rand, keys, n, size int) {
	for range n {
		k := fmt.Sprintf("key-%05d", rnd.IntN(keys))
		if rnd.IntN(10) == 0 {
			ch.del(k)
		} else {
			ch.set(k, size)
		}
	}
}

// SPEC SYNC-7: a standby that joins gets the bulk sync, then increments; records of a key
// are installed in order and the standby ends equal to the active.
func TestIncrementsArriveInOrderAndComplete(t *testing.T) {
	a, b := pair(t, nil, nil)
	for i := range 500 {
		a.ch.set(fmt.Sprintf("key-%05d", i), 60)
	}
	<-a.ch.watched()
	eventually(t, 5*time.Second, "bulk sync complete", b.ep.BulkComplete)
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		churn(a.ch, rnd, 2000, 500, 60)
		time.Sleep(time.Millisecond)
	}
	waitEqual(t, a, b, 10*time.Second)
	if len(b.ch.regressions()) > 0 {
		t.Fatalf("records installed out of order: %v", b.ch.regressions()[:min(5, len(b.ch.regressions()))])
	}
	// The standby is equal once it installed everything; the active
	// counts the last acknowledgement when it arrives, a moment later.
	eventually(t, 5*time.Second, "every datagram acknowledged", func() bool {
		c := a.ep.Stats().Channels[0]
		return c.AckedSeq == c.SentSeq
	})
	sa, sb := a.ep.Stats(), b.ep.Stats()
	if sa.Resyncs != 0 || sa.BulksSent != 1 || sb.BulksReceived != 1 || sb.LostRanges != 0 {
		t.Fatalf("unexpected resync or loss on a clean link: active %+v standby %+v", sa, sb)
	}
	if a.countEvents(EventBulkSendBegin) != 1 || b.countEvents(EventBulkReceiveEnd) != 1 {
		t.Fatalf("bulk events: %v / %v", a.eventList(), b.eventList())
	}
	c := sa.Channels[0]
	if c.Emitted < 10000 || c.Sent+c.Coalesced < c.Emitted || c.AckedSeq == 0 || c.AckedSeq != c.SentSeq {
		t.Fatalf("channel counters %+v", c)
	}
	if cb := sb.Channels[0]; cb.Applied == 0 || cb.ApplyErrors != 0 || cb.Entries != a.ch.Count() {
		t.Fatalf("standby channel counters %+v", cb)
	}
}

// SPEC SYNC-7: a dropped range of data datagrams is found missing by the standby and
// retransmitted by the active; nothing is lost and no resync is needed.
func TestDroppedRangeRecoveredByRetransmission(t *testing.T) {
	seen := map[uint64]bool{}
	r := &relay{drop: func(toB bool, b []byte) bool {
		s := dataSeq(b)
		if !toB || s < 20 || s > 40 || seen[s] {
			return false
		}
		seen[s] = true // drop the first transmission of 20..40 only
		return true
	}}
	a, b := pair(t, r, nil)
	<-a.ch.watched()
	eventually(t, 5*time.Second, "bulk sync complete", b.ep.BulkComplete)
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 30 {
		churn(a.ch, rnd, 3000, 200, 80)
		time.Sleep(time.Millisecond)
	}
	waitEqual(t, a, b, 10*time.Second)
	sa, sb := a.ep.Stats(), b.ep.Stats()
	r.mu.Lock()
	nseen := len(seen)
	r.mu.Unlock()
	if nseen != 21 {
		t.Fatalf("the relay dropped %d datagrams of 20..40, want 21 (too little traffic?)", nseen)
	}
	if sa.Retransmits < 21 || sb.LostRanges == 0 || sb.RecoveredRanges != sb.LostRanges || sa.Resyncs != 0 || sb.Unrecoverable != 0 {
		t.Fatalf("active %+v\nstandby %+v", sa, sb)
	}
	if len(b.ch.regressions()) > 0 {
		t.Fatalf("out of order: %v", b.ch.regressions()[:1])
	}
}

// SPEC SYNC-7: 10 % random loss both ways (data, acknowledgements, keep-alives) is
// recovered by retransmission.
func TestRandomLossRecovered(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	r := &relay{drop: func(toB bool, b []byte) bool { return rnd.IntN(10) == 0 }}
	a, b := pair(t, r, nil)
	<-a.ch.watched()
	eventually(t, 5*time.Second, "bulk sync complete", b.ep.BulkComplete)
	crnd := rand.New(rand.NewPCG(7, 8))
	for range 30 {
		churn(a.ch, crnd, 3000, 300, 80)
		time.Sleep(time.Millisecond)
	}
	waitEqual(t, a, b, 15*time.Second)
	sa, sb := a.ep.Stats(), b.ep.Stats()
	if sa.Retransmits == 0 || sb.LostRanges == 0 || sa.Resyncs != 0 {
		t.Fatalf("active %+v\nstandby %+v", sa, sb)
	}
	if len(b.ch.regressions()) > 0 {
		t.Fatalf("out of order: %v", b.ch.regressions()[:1])
	}
	r.mu.Lock()
	dropped := r.dropped
	r.mu.Unlock()
	t.Logf("relay dropped %d; retransmits %d, lost ranges %d, recovered %d", dropped, sa.Retransmits, sb.LostRanges, sb.RecoveredRanges)
}

// SPEC SYNC-7: a range that never arrives (every retransmission dropped) is given up
// after Config.GiveUp; the active resyncs and the standby ends equal to the active.
func TestUnrecoverableGapTriggersResync(t *testing.T) {
	r := &relay{drop: func(toB bool, b []byte) bool {
		s := dataSeq(b)
		return toB && s >= 10 && s <= 12
	}}
	a, b := pair(t, r, func(c *Config) { c.GiveUp = 300 * time.Millisecond })
	<-a.ch.watched()
	rnd := rand.New(rand.NewPCG(9, 10))
	for range 40 {
		churn(a.ch, rnd, 2000, 100, 80)
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "a resync", func() bool { return a.ep.Stats().Resyncs > 0 })
	waitEqual(t, a, b, 10*time.Second)
	sa, sb := a.ep.Stats(), b.ep.Stats()
	if sa.Unrecoverable == 0 || sa.BulksSent < 2 || sb.BulksReceived < 1 || !b.ep.BulkComplete() {
		t.Fatalf("active %+v\nstandby %+v", sa, sb)
	}
	if a.countEvents(EventLoss) == 0 || a.countEvents(EventResync) == 0 {
		t.Fatalf("loss and resync events missing: %v", a.eventList())
	}
}

// SPEC SYNC-7: a standby that restarts (a new endpoint, empty, on the same address) is
// recognised as a new session and gets a new bulk sync.
func TestRestartedStandbyGetsBulkSync(t *testing.T) {
	a, b := pair(t, nil, nil)
	<-a.ch.watched()
	rnd := rand.New(rand.NewPCG(11, 12))
	churn(a.ch, rnd, 1000, 1000, 60)
	waitEqual(t, a, b, 5*time.Second)
	addr := addrOf(b.conn)
	b.stop()
	churn(a.ch, rnd, 1000, 500, 60) // changes while the standby is down
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	b2 := start(t, conn, addrOf(a.conn), newMem("conntrack"), RoleStandby, nil)
	waitEqual(t, a, b2, 5*time.Second)
	eventually(t, 2*time.Second, "bulk complete", b2.ep.BulkComplete)
	if s := a.ep.Stats(); s.BulksSent != 2 || s.Resyncs != 0 {
		t.Fatalf("active %+v", s)
	}
	if b2.ch.replaceCount() != 1 || b2.countEvents(EventBulkReceiveBegin) != 1 {
		t.Fatalf("restarted standby: %d replaces, events %v", b2.ch.replaceCount(), b2.eventList())
	}
}

// SPEC SYNC-7: at the end of a bulk sync the standby's entries that the active does not
// have go away; entries created during the bulk sync stay.
func TestBulkSyncReplaceRemovesStaleEntries(t *testing.T) {
	ca, cb := listen(t), listen(t)
	achan, bchan := newMem("conntrack"), newMem("conntrack")
	for i := range 300 {
		achan.set(fmt.Sprintf("key-%05d", i), 40)
		bchan.set(fmt.Sprintf("stale-%05d", i), 40) // left over from an earlier life
	}
	bchan.set("key-00001", 40)
	a := start(t, ca, addrOf(cb), achan, RoleActive, nil)
	<-achan.watched()
	b := start(t, cb, addrOf(ca), bchan, RoleStandby, nil)
	achan.set("created-during-bulk", 40)
	eventually(t, 5*time.Second, "bulk complete", b.ep.BulkComplete)
	waitEqual(t, a, b, 5*time.Second)
	if _, ok := bchan.snapshotMap()["stale-00000"]; ok || bchan.Count() != 301 {
		t.Fatalf("stale entries left: %d entries", bchan.Count())
	}
}

// SPEC SEC-1: datagrams under another key, tampered, replayed or from another address are
// counted and change nothing.
func TestBadKeyTamperedReplayedIgnored(t *testing.T) {
	r := &relay{}
	a, b := pair(t, r, nil)
	<-a.ch.watched()
	a.ch.set("genuine", 40)
	waitEqual(t, a, b, 5*time.Second)

	// A data datagram of the real stream, to tamper with and replay.
	r.mu.Lock()
	var data []byte
	for _, d := range r.recorded {
		if dataSeq(d) != 0 {
			data = d
		}
	}
	r.mu.Unlock()
	if data == nil {
		t.Fatal("no data datagram recorded")
	}
	base := b.ep.Stats()

	// The same datagram again: refused as a replay.
	r.injectToB(data)
	// Tampered: one bit of the payload flipped.
	tampered := append([]byte(nil), data...)
	tampered[len(tampered)-20] ^= 1
	r.injectToB(tampered)
	// A forged datagram under another key, claiming the active's session and addressed to
	// the standby's current session, carrying a record.
	h, _, _ := frame.ParseHeader(data)
	other, _ := frame.NewKey([]byte("not the cluster key"))
	var bld frame.DataBuilder
	bld.Reset(nil, 1000, 1<<40, 1<<40)
	bld.AddRecord(0, channel.Upsert, []byte("forged"), []byte("x#1"))
	h.Packet += 1000
	forged, err := other.Seal(nil, h, bld.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	r.injectToB(forged)
	// The real datagram from an address that is not the peer's.
	stranger := listen(t)
	_, _ = stranger.WriteToUDPAddrPort(data, addrOf(b.conn))

	eventually(t, 2*time.Second, "drops counted", func() bool {
		s := b.ep.Stats()
		return s.Replayed > base.Replayed && s.BadAuth >= base.BadAuth+2 && s.Foreign > base.Foreign
	})
	a.ch.set("after", 40)
	waitEqual(t, a, b, 5*time.Second)
	if _, ok := b.ch.snapshotMap()["forged"]; ok {
		t.Fatal("a forged record was installed")
	}
}

// SPEC SEC-2: with encryption on, no record is readable on the wire, and an
// authenticated but unencrypted datagram is refused.
func TestEncryptedStream(t *testing.T) {
	r := &relay{}
	a, b := pair(t, r, func(c *Config) { c.Encrypt = true })
	<-a.ch.watched()
	a.ch.set("secret-key-name", 40)
	waitEqual(t, a, b, 5*time.Second)
	r.mu.Lock()
	for _, d := range r.recorded {
		if bytes.Contains(d, []byte("secret-key-name")) {
			r.mu.Unlock()
			t.Fatal("a record is readable on the wire")
		}
	}
	r.mu.Unlock()
	// A plain datagram with the right key, as from the active's session.
	k, _ := frame.NewKey(testKey)
	ctl, _ := frame.AppendControl(nil, &frame.Control{Role: RoleActive})
	a.ep.mu.Lock()
	h := frame.Header{Type: frame.TypeControl, Sender: a.ep.session, Receiver: b.ep.session, Packet: 1 << 50}
	a.ep.mu.Unlock()
	plain, _ := k.Seal(nil, h, ctl)
	r.injectToB(plain)
	eventually(t, 2*time.Second, "unencrypted counted", func() bool { return b.ep.Stats().Unencrypted == 1 })
}

// SPEC SEC-1: the key changes in place. The active changes first: until the standby has
// the new key its datagrams still arrive (previous key), the active's are dropped and
// retransmitted; nothing is lost.
func TestKeyRotation(t *testing.T) {
	r := &relay{}
	a, b := pair(t, r, func(c *Config) { c.KeyGrace = 300 * time.Millisecond })
	<-a.ch.watched()
	a.ch.set("before", 40)
	waitEqual(t, a, b, 5*time.Second)
	newKey := []byte("the new cluster pre-shared key")
	if err := a.ep.SetKey(newKey); err != nil {
		t.Fatal(err)
	}
	a.ch.set("during", 40)
	eventually(t, 2*time.Second, "standby refuses the new key, active takes the old one", func() bool {
		return b.ep.Stats().BadAuth > 0 && a.ep.Stats().PreviousKey > 0
	})
	if err := b.ep.SetKey(newKey); err != nil {
		t.Fatal(err)
	}
	a.ch.set("after", 40)
	waitEqual(t, a, b, 5*time.Second)
	sa, sb := a.ep.Stats(), b.ep.Stats()
	if sa.KeyFingerprint != sb.KeyFingerprint || sa.Resyncs != 0 || sa.Retransmits == 0 {
		t.Fatalf("active %+v\nstandby %+v", sa, sb)
	}
	// After the grace period the old key is refused.
	time.Sleep(400 * time.Millisecond)
	oldKey, _ := frame.NewKey(testKey)
	ctl, _ := frame.AppendControl(nil, &frame.Control{Role: RoleActive})
	a.ep.mu.Lock()
	h := frame.Header{Type: frame.TypeControl, Sender: a.ep.session, Receiver: b.ep.session, Packet: 1 << 50}
	a.ep.mu.Unlock()
	stale, _ := oldKey.Seal(nil, h, ctl)
	before := b.ep.Stats().BadAuth
	r.injectToB(stale)
	eventually(t, 2*time.Second, "old key refused after the grace period", func() bool { return b.ep.Stats().BadAuth == before+1 })
	if err := a.ep.SetKey([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
}

// SPEC SYNC-7: a source's overrun report (netlink ENOBUFS) is counted and starts a
// resync that brings the standby back to equal.
func TestSourceOverrunTriggersResync(t *testing.T) {
	a, b := pair(t, nil, nil)
	<-a.ch.watched()
	a.ch.set("one", 40)
	waitEqual(t, a, b, 5*time.Second)
	// Changes the source "missed": in the table, never emitted.
	a.ch.mu.Lock()
	a.ch.entries["missed"] = []byte("vvvv#1")
	a.ch.mu.Unlock()
	a.ch.reportLost("ENOBUFS")
	waitEqual(t, a, b, 5*time.Second)
	s := a.ep.Stats()
	if s.Overruns != 1 || s.Resyncs != 1 || s.Channels[0].Overruns != 1 || a.countEvents(EventOverrun) != 1 {
		t.Fatalf("active %+v", s)
	}
}

// Values larger than a datagram are fragmented and reassembled.
func TestLargeValues(t *testing.T) {
	a, b := pair(t, nil, nil)
	<-a.ch.watched()
	for i := range 20 {
		a.ch.set(fmt.Sprintf("cert-%d", i), 1000+i*700)
		a.ch.set(fmt.Sprintf("small-%d", i), 30)
	}
	waitEqual(t, a, b, 5*time.Second)
	if s := b.ep.Stats().Channels[0]; s.ApplyErrors != 0 {
		t.Fatalf("standby %+v", s)
	}
}

// Records the sink refuses are counted per channel; the rest is installed.
func TestApplyErrorsCounted(t *testing.T) {
	a, b := pair(t, nil, nil)
	<-a.ch.watched()
	eventually(t, 5*time.Second, "bulk complete", b.ep.BulkComplete)
	b.ch.mu.Lock()
	b.ch.failKeys = map[string]bool{"bad-1": true, "bad-2": true}
	b.ch.mu.Unlock()
	a.ch.set("bad-1", 30)
	a.ch.set("bad-2", 30)
	a.ch.set("good", 30)
	eventually(t, 5*time.Second, "errors counted", func() bool {
		s := b.ep.Stats().Channels[0]
		return s.ApplyErrors == 2 && s.Applied > 0
	})
	if _, ok := b.ch.snapshotMap()["good"]; !ok {
		t.Fatal("the good record was not installed")
	}
}
