// Package dhcpclient is a small, real DHCPv4 client for a WAN interface of
// an HA pair that publishes its lease to the state sync plugin (SPEC
// SYNC-8). On the active unit it obtains a lease (DISCOVER, OFFER,
// REQUEST, ACK), configures the address and default route, renews at T1
// and publishes address, prefix, gateway, DNS servers, lease times,
// server id and client id on the "dhcp-client" channel. On the standby it
// holds the replicated lease. When the unit becomes active with a
// replicated lease it installs the address at once and renews it with a
// DHCPREQUEST carrying the same client id and the address as requested
// address (RFC 2131 INIT-REBOOT), so the server confirms the same
// binding; without a lease, or after a NAK, it starts a new discovery.
//
// The role comes from the publish server (client.Watch). Without a
// socket the client runs standalone: always active, publishing nothing.
package dhcpclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"github.com/tandem-ha/tandem/plugins/statesync/publish"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/client"
	"github.com/tandem-ha/tandem/plugins/statesync/publish/records"
)

// Defaults of the zero Config fields.
const (
	DefaultTimeout = 2 * time.Second
	DefaultRetries = 3
)

// Config configures a Client.
type Config struct {
	// Interface is the WAN interface; required.
	Interface string
	// Socket is the publish socket; empty runs standalone.
	Socket string
	// ClientID is the client identifier option (61) used when there is no
	// replicated lease; 0x01 followed by the interface's MAC when empty.
	// Both units of a pair should have the same.
	ClientID []byte
	// Install configures the leased address and default route on
	// Interface (and removes them when the unit becomes standby).
	Install bool
	// Timeout is how long one exchange waits for the server's answer;
	// Retries how many times it is sent.
	Timeout time.Duration
	Retries int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Status is what the client holds.
type Status struct {
	// Role is the unit's role as the publish server reports it.
	Role string
	// Lease is the lease held: obtained here (Owned) or replicated.
	Lease *records.DHCPLease
	Owned bool
}

// Client is one interface's DHCP client.
type Client struct {
	cfg Config
	log *slog.Logger
	mac net.HardwareAddr
	pub *client.Client

	mu     sync.Mutex
	status Status
}

// New checks cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Interface == "" {
		return nil, errors.New("dhcpclient: Config.Interface: empty")
	}
	ifc, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("dhcpclient: Config.Interface: %w", err)
	}
	if len(ifc.HardwareAddr) != 6 {
		return nil, fmt.Errorf("dhcpclient: Config.Interface: %s has no Ethernet address", cfg.Interface)
	}
	if len(cfg.ClientID) == 0 {
		cfg.ClientID = append([]byte{1}, ifc.HardwareAddr...)
	}
	if len(cfg.ClientID) < 2 || len(cfg.ClientID) > 255 {
		return nil, fmt.Errorf("dhcpclient: Config.ClientID: %d bytes, want 2..255", len(cfg.ClientID))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Client{cfg: cfg, log: cfg.Logger.With("component", "dhcpc", "interface", cfg.Interface), mac: ifc.HardwareAddr}, nil
}

// Status returns what the client holds now.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	if s.Lease != nil {
		l := *s.Lease
		s.Lease = &l
	}
	return s
}

// view is the role and the replicated lease of this interface.
type view struct {
	role  string
	lease *records.DHCPLease
}

// Run runs the client until ctx ends. It keeps the lease (and the
// address) when it returns: the lease is state that outlives the process.
func (c *Client) Run(ctx context.Context) error {
	views := make(chan view, 1)
	if c.cfg.Socket == "" {
		views <- view{role: client.RoleActive}
	} else {
		pub, err := client.Dial(ctx, c.cfg.Socket)
		if err != nil {
			return fmt.Errorf("dhcpclient: %w", err)
		}
		c.pub = pub
		defer pub.Close()
		go c.follow(ctx, views)
	}
	var dc *nclient4.Client
	defer func() {
		if dc != nil {
			dc.Close()
		}
	}()
	var v view
	var timer *time.Timer
	var wake <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case v = <-views:
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
		wake = nil
		c.mu.Lock()
		changed := c.status.Role != v.role
		c.status.Role = v.role
		c.mu.Unlock()
		if changed {
			c.log.Info("dhcp: unit role", "role", v.role, "replicated_lease", v.lease != nil)
		}
		if v.role != client.RoleActive {
			if dc != nil {
				dc.Close()
				dc = nil
			}
			c.standby(v)
			continue
		}
		if dc == nil {
			var err error
			dc, err = nclient4.New(c.cfg.Interface, nclient4.WithTimeout(c.cfg.Timeout), nclient4.WithRetry(c.cfg.Retries))
			if err != nil {
				c.log.Error("dhcp: cannot open the interface, retrying", "err", err)
				timer = time.NewTimer(time.Second)
				wake = timer.C
				continue
			}
		}
		next := c.active(ctx, dc, v)
		timer = time.NewTimer(next)
		wake = timer.C
	}
}

// follow watches the channel and sends the latest view, reconnecting
// after errors.
func (c *Client) follow(ctx context.Context, out chan view) {
	for ctx.Err() == nil {
		w, err := client.Watch(ctx, c.cfg.Socket, publish.ChannelDHCPClient)
		if err == nil {
			var v client.View
			for {
				ev, err := w.Next()
				if err != nil {
					if ctx.Err() == nil {
						c.log.Warn("dhcp: watch of the publish socket ended, reconnecting", "err", err)
					}
					break
				}
				v.Apply(ev)
				nv := view{role: v.Role}
				if e, ok := v.Entries[c.cfg.Interface]; ok {
					if l, err := records.DecodeDHCPLease(e); err == nil {
						nv.lease = &l
					} else {
						c.log.Warn("dhcp: replicated lease unreadable", "err", err)
					}
				}
				select { // keep only the latest view
				case <-out:
				default:
				}
				out <- nv
			}
			w.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// standby holds the replicated lease; an address this unit installed as
// active is removed (the other unit holds the lease now).
func (c *Client) standby(v view) {
	c.mu.Lock()
	owned, old := c.status.Owned, c.status.Lease
	c.status.Lease, c.status.Owned = v.lease, false
	c.mu.Unlock()
	if owned && old != nil && c.cfg.Install {
		if err := removeAddress(c.cfg.Interface, old.Address); err != nil {
			c.log.Warn("dhcp: removing the address at standby", "err", err)
		}
	}
	if v.lease != nil && (old == nil || old.Address != v.lease.Address || !old.Obtained.Equal(v.lease.Obtained)) {
		c.log.Info("dhcp: holding the replicated lease", "address", v.lease.Address, "server", v.lease.ServerID,
			"client_id", fmt.Sprintf("%x", []byte(v.lease.ClientID)), "expires", v.lease.Expires().Format(time.RFC3339))
	}
}

// active does what the active unit must do now and returns when to be
// called again.
func (c *Client) active(ctx context.Context, dc *nclient4.Client, v view) time.Duration {
	now := time.Now()
	c.mu.Lock()
	lease, owned := c.status.Lease, c.status.Owned
	c.mu.Unlock()
	if !owned {
		lease = v.lease // takeover: the replicated lease, if any
	}
	switch {
	case lease == nil || !now.Before(lease.Expires()):
		if lease != nil {
			c.log.Info("dhcp: the lease expired, starting a new discovery", "address", lease.Address)
			c.drop(ctx, lease)
		}
		return c.discover(ctx, dc)
	case !owned:
		return c.takeover(ctx, dc, lease)
	}
	t1 := lease.Obtained.Add(time.Duration(lease.RenewSeconds) * time.Second)
	if now.Before(t1) {
		return t1.Sub(now)
	}
	return c.renew(ctx, dc, lease)
}

// discover obtains a new lease.
func (c *Client) discover(ctx context.Context, dc *nclient4.Client) time.Duration {
	c.log.Info("dhcp: DHCPDISCOVER", "client_id", fmt.Sprintf("%x", c.cfg.ClientID))
	l, err := dc.Request(ctx, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(c.cfg.ClientID)))
	if err != nil {
		c.log.Warn("dhcp: no lease, retrying", "err", err)
		return 5 * time.Second
	}
	return c.bound(ctx, l.ACK, c.cfg.ClientID, "discovery")
}

// takeover installs a replicated lease and renews it with an INIT-REBOOT
// DHCPREQUEST: same client id, the address as requested address.
func (c *Client) takeover(ctx context.Context, dc *nclient4.Client, l *records.DHCPLease) time.Duration {
	c.log.Info("dhcp: taking over the replicated lease: DHCPREQUEST (init-reboot)", "address", l.Address,
		"client_id", fmt.Sprintf("%x", []byte(l.ClientID)))
	if c.cfg.Install {
		if err := installLease(c.cfg.Interface, l); err != nil {
			c.log.Error("dhcp: installing the replicated lease", "err", err)
		}
	}
	req, err := c.request(l.ClientID,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(l.Address.Addr().AsSlice())))
	if err != nil {
		c.log.Error("dhcp: building the request", "err", err)
		return 5 * time.Second
	}
	return c.exchange(ctx, dc, nclient4.DefaultServers, req, l, "takeover")
}

// renew renews an owned lease at T1 (unicast to its server, ciaddr set),
// or at T2 by broadcast.
func (c *Client) renew(ctx context.Context, dc *nclient4.Client, l *records.DHCPLease) time.Duration {
	dest := &net.UDPAddr{IP: l.ServerID.AsSlice(), Port: nclient4.ServerPort}
	t2 := l.Obtained.Add(time.Duration(l.RebindSeconds) * time.Second)
	if !time.Now().Before(t2) {
		dest = nclient4.DefaultServers
	}
	c.log.Info("dhcp: DHCPREQUEST (renew)", "address", l.Address, "to", dest.IP)
	req, err := c.request(l.ClientID, dhcpv4.WithClientIP(l.Address.Addr().AsSlice()))
	if err != nil {
		c.log.Error("dhcp: building the request", "err", err)
		return 5 * time.Second
	}
	return c.exchange(ctx, dc, dest, req, l, "renewal")
}

func (c *Client) request(clientID []byte, mods ...dhcpv4.Modifier) (*dhcpv4.DHCPv4, error) {
	return dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithHwAddr(c.mac),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(clientID)),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(nclient4.MaxMessageSize)),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
			dhcpv4.OptionDomainName, dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue,
			dhcpv4.OptionRebindingTimeValue),
	}, mods...)...)
}

// exchange sends a renewal and handles the answer: ACK binds, NAK drops the
// lease and discovers, silence retries while the lease lasts.
func (c *Client) exchange(ctx context.Context, dc *nclient4.Client, dest *net.UDPAddr, req *dhcpv4.DHCPv4, l *records.DHCPLease, why string) time.Duration {
	resp, err := dc.SendAndRead(ctx, dest, req, nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	switch {
	case err != nil:
		left := time.Until(l.Expires())
		c.log.Warn("dhcp: no answer to the "+why+"; keeping the lease and retrying", "err", err, "lease_left", left.Round(time.Second))
		return max(min(left/2, 30*time.Second), time.Second)
	case resp.MessageType() == dhcpv4.MessageTypeNak:
		c.log.Warn("dhcp: DHCPNAK: the server refuses the address; starting a new discovery", "address", l.Address, "message", resp.Message())
		c.drop(ctx, l)
		return 0
	}
	return c.bound(ctx, resp, l.ClientID, why)
}

// bound takes an ACK: installs, records and publishes the lease.
func (c *Client) bound(ctx context.Context, ack *dhcpv4.DHCPv4, clientID []byte, why string) time.Duration {
	l, err := leaseFromACK(ack, c.cfg.Interface, clientID, c.mac, time.Now())
	if err != nil {
		c.log.Error("dhcp: unusable DHCPACK", "err", err)
		return 5 * time.Second
	}
	if c.cfg.Install {
		if err := installLease(c.cfg.Interface, &l); err != nil {
			c.log.Error("dhcp: installing the lease", "err", err)
		}
	}
	c.mu.Lock()
	c.status.Lease, c.status.Owned = &l, true
	c.mu.Unlock()
	c.log.Info("dhcp: DHCPACK: bound", "by", why, "address", l.Address, "gateway", l.Gateway, "server", l.ServerID,
		"lease", time.Duration(l.LeaseSeconds)*time.Second)
	c.publish(ctx, &l)
	return time.Duration(l.RenewSeconds) * time.Second
}

func (c *Client) publish(ctx context.Context, l *records.DHCPLease) {
	if c.pub == nil {
		return
	}
	e, err := l.Entry()
	if err == nil {
		err = c.pub.Upsert(ctx, publish.ChannelDHCPClient, e)
	}
	if err != nil {
		c.log.Error("dhcp: publishing the lease", "err", err)
	}
}

// drop forgets a lease: removes the address and the published entry.
func (c *Client) drop(ctx context.Context, l *records.DHCPLease) {
	if c.cfg.Install {
		if err := removeAddress(c.cfg.Interface, l.Address); err != nil {
			c.log.Warn("dhcp: removing the address", "err", err)
		}
	}
	c.mu.Lock()
	c.status.Lease, c.status.Owned = nil, false
	c.mu.Unlock()
	if c.pub != nil {
		if err := c.pub.Delete(ctx, publish.ChannelDHCPClient, c.cfg.Interface); err != nil {
			c.log.Error("dhcp: deleting the published lease", "err", err)
		}
	}
}

// leaseFromACK is the lease an ACK grants.
func leaseFromACK(ack *dhcpv4.DHCPv4, iface string, clientID []byte, mac net.HardwareAddr, now time.Time) (records.DHCPLease, error) {
	addr, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || addr.IsUnspecified() {
		return records.DHCPLease{}, fmt.Errorf("DHCPACK without an address (yiaddr %v)", ack.YourIPAddr)
	}
	bits := 32
	if m := ack.SubnetMask(); m != nil {
		if ones, size := m.Size(); size == 32 {
			bits = ones
		}
	}
	l := records.DHCPLease{Interface: iface, Address: netip.PrefixFrom(addr, bits), ClientID: clientID,
		HardwareAddr: mac.String(), Obtained: now, Domain: ack.DomainName()}
	if r := ack.Router(); len(r) > 0 {
		l.Gateway, _ = netip.AddrFromSlice(r[0].To4())
	}
	for _, d := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(d.To4()); ok {
			l.DNS = append(l.DNS, a)
		}
	}
	l.ServerID, _ = netip.AddrFromSlice(ack.ServerIdentifier().To4())
	lt := ack.IPAddressLeaseTime(0)
	if lt <= 0 {
		return l, errors.New("DHCPACK without a lease time")
	}
	l.LeaseSeconds = uint32(lt / time.Second)
	l.RenewSeconds = uint32(ack.IPAddressRenewalTime(lt/2) / time.Second)
	l.RebindSeconds = uint32(ack.IPAddressRebindingTime(lt*7/8) / time.Second)
	return l, l.Check()
}
