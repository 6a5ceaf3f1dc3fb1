package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-plugin"
	"github.com/tandem-ha/tandem/gen/pluginpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// ProtocolVersion is the plugin protocol version negotiated by go-plugin.
// Bump it (and add a VersionedPlugins entry) for incompatible changes.
const ProtocolVersion = 1

// Handshake values shared by host and plugins. The magic cookie only keeps a
// plugin binary from being run by hand by mistake; it is not a security
// measure (AutoMTLS authenticates the connection).
const (
	MagicCookieKey   = "TANDEM_PLUGIN"
	MagicCookieValue = "7d0c3f7e-tandem-plugin-v1"
)

// PluginName is the name under which the plugin is dispensed in go-plugin's
// plugin set. Every tandem plugin process serves exactly one.
const PluginName = "tandem"

// Handshake is the go-plugin handshake configuration.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// VersionedPlugins is the plugin set per protocol version, for the host's
// go-plugin ClientConfig. impl is nil on the host side.
func VersionedPlugins(impl Plugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Impl: impl}},
	}
}

// AllowedProtocols is the only transport tandem accepts: gRPC.
var AllowedProtocols = []plugin.Protocol{plugin.ProtocolGRPC}

// GRPCPlugin is the go-plugin glue (plugin.GRPCPlugin) for the tandem protocol.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the plugin implementation (plugin side only).
	Impl Plugin
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the plugin service (plugin side).
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("sdk: GRPCPlugin has no implementation")
	}
	pluginpb.RegisterPluginServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a *Client (host side). ctx is cancelled by go-plugin when
// the plugin process exits; Client.Done exposes it.
func (p *GRPCPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{rpc: pluginpb.NewPluginClient(c), health: grpc_health_v1.NewHealthClient(c), done: ctx.Done()}, nil
}

// grpcServer adapts a Plugin to the generated gRPC server interface.
type grpcServer struct {
	pluginpb.UnimplementedPluginServer
	impl Plugin
}

func (s *grpcServer) Describe(ctx context.Context, _ *pluginpb.DescribeRequest) (*pluginpb.PluginInfo, error) {
	return s.impl.Describe(ctx)
}

func (s *grpcServer) Apply(ctx context.Context, in *pluginpb.Intent) (*pluginpb.ApplyResult, error) {
	return s.impl.Apply(ctx, in)
}

func (s *grpcServer) Watch(_ *pluginpb.WatchRequest, stream grpc.ServerStreamingServer[pluginpb.Observation]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	var mu sync.Mutex // grpc streams do not allow concurrent Send
	emit := func(o *Observation) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err := stream.Send(o); err != nil {
			cancel() // the host went away: end the plugin's Watch
		}
	}
	err := s.impl.Watch(ctx, emit)
	mu.Lock() // no Send may run after the handler returns
	defer mu.Unlock()
	cancel()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (s *grpcServer) PrepareActive(ctx context.Context, _ *pluginpb.PrepareRequest) (*pluginpb.PrepareResult, error) {
	if p, ok := s.impl.(Preparer); ok {
		return p.PrepareActive(ctx)
	}
	return &PrepareResult{Ready: true}, nil
}

// Client is the host side of a plugin connection. It implements Plugin.
type Client struct {
	rpc    pluginpb.PluginClient
	health grpc_health_v1.HealthClient
	done   <-chan struct{}
}

var _ Plugin = (*Client)(nil)

// Dispense returns the tandem plugin of a started go-plugin client.
func Dispense(c *plugin.Client) (*Client, error) {
	proto, err := c.Client()
	if err != nil {
		return nil, err
	}
	raw, err := proto.Dispense(PluginName)
	if err != nil {
		return nil, err
	}
	sc, ok := raw.(*Client)
	if !ok {
		return nil, fmt.Errorf("sdk: dispensed %T, want *sdk.Client", raw)
	}
	return sc, nil
}

// Done is closed when the plugin process has exited.
func (c *Client) Done() <-chan struct{} { return c.done }

// Ping checks the plugin's gRPC health service (the one go-plugin registers
// for its own Ping) but, unlike go-plugin's Ping, honours ctx so a hung
// plugin cannot block the caller.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return err
	}
	if resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		return fmt.Errorf("plugin health: %s", resp.GetStatus())
	}
	return nil
}

// Describe implements Plugin.
func (c *Client) Describe(ctx context.Context) (*Info, error) {
	return c.rpc.Describe(ctx, &pluginpb.DescribeRequest{})
}

// Apply implements Plugin.
func (c *Client) Apply(ctx context.Context, in *Intent) (*ApplyResult, error) {
	return c.rpc.Apply(ctx, in)
}

// PrepareActive implements Preparer: every plugin answers it (the SDK
// answers ready for plugins that own no takeover state).
func (c *Client) PrepareActive(ctx context.Context) (*PrepareResult, error) {
	return c.rpc.PrepareActive(ctx, &pluginpb.PrepareRequest{})
}

// Watch implements Plugin: it streams observations into emit until ctx is
// cancelled (returns ctx.Err()) or the stream breaks (returns the error;
// io.ErrUnexpectedEOF when the plugin ended the stream).
func (c *Client) Watch(ctx context.Context, emit func(*Observation)) error {
	stream, err := c.rpc.Watch(ctx, &pluginpb.WatchRequest{})
	if err != nil {
		return err
	}
	for {
		o, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		emit(o)
	}
}
