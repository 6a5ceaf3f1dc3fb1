package publish_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/publishtest"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/records"
)

// applied is how many records of ch the unit's stream has installed.
func applied(u *publishtest.Unit, ch string) uint64 {
	for _, c := range u.Endpoint.Stats().Channels {
		if c.Name == ch {
			return c.Applied
		}
	}
	return 0
}

// TestPeriodicChannels is SPEC SYNC-11: DHCP server leases and certificates
// are not sent at every change but every period (here 300 ms and 1 h
// instead of 5 and 60 min), each time in full, deletions included, and at
// once on flush (a certificate or signature database update).
func TestPeriodicChannels(t *testing.T) {
	const period = 300 * time.Millisecond
	p := publishtest.NewPair(t, []publish.ChannelConfig{
		{Name: publish.ChannelDHCPServerLeases, Interval: period},
		{Name: publish.ChannelCertificates, Interval: time.Hour},
		{Name: publish.ChannelDHCPClient},
	}, publishtest.Options{})
	ctx := ctxT(t, 30*time.Second)
	eventually(t, "bulk sync", func() (bool, string) { return p.B.Endpoint.BulkComplete(), "" })
	a, b := dial(t, p.A.Socket), dial(t, p.B.Socket)
	leases := p.A.Server.Store(publish.ChannelDHCPServerLeases)
	certs := p.A.Server.Store(publish.ChannelCertificates)
	emittedBefore := leases.Emitted()
	var keys []string
	for i := range 3 {
		l := records.DHCPServerLease{Address: netip.MustParseAddr(fmt.Sprintf("192.168.1.%d", 100+i)),
			HardwareAddr: fmt.Sprintf("02:00:00:00:00:%02x", i), Hostname: fmt.Sprintf("host%d", i),
			Expires: time.Now().Add(time.Hour)}
		e, err := l.Entry()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, e.Key)
		if err := a.Upsert(ctx, publish.ChannelDHCPServerLeases, e); err != nil {
			t.Fatal(err)
		}
	}
	if got := leases.Emitted(); got != emittedBefore {
		t.Fatalf("a periodic channel emitted %d records at publication, want none until its period", got-emittedBefore)
	}
	eventually(t, "leases at the standby", func() (bool, string) {
		_, es, err := b.Get(ctx, publish.ChannelDHCPServerLeases)
		if err != nil || len(es) != 3 {
			return false, fmt.Sprint(len(es), err)
		}
		l, err := records.DecodeDHCPServerLease(es[2])
		return err == nil && l.Hostname == "host2", fmt.Sprint(l, err)
	})
	// Every period re-sends every lease: the standby installs them again.
	base := applied(p.B, publish.ChannelDHCPServerLeases)
	time.Sleep(4 * period)
	if got := applied(p.B, publish.ChannelDHCPServerLeases) - base; got < 6 {
		t.Errorf("the standby installed %d lease records in 4 periods, want the 3 leases re-sent at least twice", got)
	}
	// A deletion reaches the standby with the next period.
	if err := a.Delete(ctx, publish.ChannelDHCPServerLeases, keys[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deletion at the standby", func() (bool, string) {
		_, es, err := b.Get(ctx, publish.ChannelDHCPServerLeases)
		return err == nil && len(es) == 2 && es[0].Key == keys[1], fmt.Sprint(es, err)
	})

	// Certificates: hourly, so nothing is sent before a flush.
	if err := a.Upsert(ctx, publish.ChannelCertificates, entry("ca-root", "-----BEGIN CERTIFICATE-----")); err != nil {
		t.Fatal(err)
	}
	if err := a.Upsert(ctx, publish.ChannelDHCPClient, entry("marker", "1")); err != nil {
		t.Fatal(err)
	}
	waitValues(t, b, publish.ChannelDHCPClient, "marker=1")
	if got := values(t, b, publish.ChannelCertificates); got != "" || certs.Emitted() != 0 {
		t.Fatalf("certificates at the standby before the period or a flush: %q (%d emitted)", got, certs.Emitted())
	}
	if err := a.Flush(ctx, publish.ChannelCertificates); err != nil {
		t.Fatal(err)
	}
	waitValues(t, b, publish.ChannelCertificates, "ca-root=-----BEGIN CERTIFICATE-----")
}

// TestDefaultPeriods: the defaults of the tandem-statesync leaves
// dhcp-lease-interval (300 s) and certificate-interval (3600 s), SYNC-11.
func TestDefaultPeriods(t *testing.T) {
	for name, want := range map[string]time.Duration{
		publish.ChannelDHCPServerLeases: 5 * time.Minute, publish.ChannelCertificates: time.Hour,
		publish.ChannelDHCPClient: 0, publish.ChannelDNSCache: 0, publish.ChannelPPPoE: 0,
	} {
		if got := publish.DefaultChannel(name).Interval; got != want {
			t.Errorf("%s: period %v, want %v", name, got, want)
		}
	}
}
