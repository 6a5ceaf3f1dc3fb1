package gnmi

import (
	"context"
	"log/slog"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/protobuf/proto"

	"github.com/tandem-ha/tandem/northbound/auth"
	"github.com/tandem-ha/tandem/northbound/service"
)

// gnmiService implements the gNMI RPCs.
type gnmiService struct {
	gpb.UnimplementedGNMIServer
	b      *service.Backend
	alias  string
	log    *slog.Logger
	hub    *hub
	mirror *mirror
	tree   source
}

func newService(b *service.Backend, alias string, log *slog.Logger) *gnmiService {
	target := b.Tree.Target()
	return &gnmiService{
		b: b, alias: alias, log: log,
		hub:    newHub(),
		mirror: newMirror(b.Store, target),
		tree:   source{cache: b.Tree.Cache(), target: target},
	}
}

// checkTarget accepts no target, the unit's serial number (the state
// tree's target) and the configured alias.
func (s *gnmiService) checkTarget(prefix *gpb.Path) error {
	t := prefix.GetTarget()
	if t == "" || t == s.tree.target || (s.alias != "" && t == s.alias) {
		return nil
	}
	also := ""
	if s.alias != "" {
		also = " or " + s.alias
	}
	return notFoundf("target %q: this unit is gNMI target %s%s; name it or leave the target empty", t, s.tree.target, also)
}

// checkOrigin accepts paths without origin or with origin "tandem".
func checkOrigin(paths ...*gpb.Path) error {
	for _, p := range paths {
		if o := p.GetOrigin(); o != "" && o != "tandem" {
			return invalidf("origin %q: tandem serves its own YANG models only; leave the origin empty (or \"tandem\")", o)
		}
	}
	return nil
}

// checkRead checks that the caller may read (every role may).
func checkRead(ctx context.Context, what string) error {
	return grpcError(principalOf(ctx).Check(auth.Read, what))
}

// gnmiVersion is the gNMI specification version of the proto tandem is
// built with.
func gnmiVersion() string {
	v, _ := proto.GetExtension(gpb.File_github_com_openconfig_gnmi_proto_gnmi_gnmi_proto.Options(), gpb.E_GnmiService).(string)
	return v
}

// Capabilities lists the models, encodings and gNMI version.
func (s *gnmiService) Capabilities(ctx context.Context, _ *gpb.CapabilityRequest) (*gpb.CapabilityResponse, error) {
	if err := checkRead(ctx, "gNMI Capabilities"); err != nil {
		return nil, err
	}
	out := &gpb.CapabilityResponse{
		SupportedEncodings: []gpb.Encoding{gpb.Encoding_JSON_IETF, gpb.Encoding_JSON, gpb.Encoding_PROTO},
		GNMIVersion:        gnmiVersion(),
	}
	for _, m := range models {
		out.SupportedModels = append(out.SupportedModels, proto.Clone(m).(*gpb.ModelData))
	}
	return out, nil
}
