package gnmi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandem-ha/tandem/northbound/service"
)

// codeOf maps the service's error kinds to gRPC codes. The HA role's
// refusal (a standby takes no configuration, CFG-1) is PERMISSION_DENIED
// like a user role's, with the reason in the message.
var codeOf = map[service.Kind]codes.Code{
	service.KindInternal:        codes.Internal,
	service.KindInvalid:         codes.InvalidArgument,
	service.KindUnauthenticated: codes.Unauthenticated,
	service.KindForbidden:       codes.PermissionDenied,
	service.KindRefused:         codes.PermissionDenied,
	service.KindNotFound:        codes.NotFound,
	service.KindConflict:        codes.FailedPrecondition,
	service.KindUnavailable:     codes.Unavailable,
	service.KindRateLimited:     codes.ResourceExhausted,
}

// grpcError turns err into a gRPC status error. Errors that already carry
// a status keep it.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codeOf[service.KindOf(err)], err.Error())
}

func invalidf(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf(format, args...))
}

func notFoundf(format string, args ...any) error {
	return status.Error(codes.NotFound, fmt.Sprintf(format, args...))
}

func unimplementedf(format string, args ...any) error {
	return status.Error(codes.Unimplemented, fmt.Sprintf(format, args...))
}
