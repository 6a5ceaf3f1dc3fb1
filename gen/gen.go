// Package gen holds Go code generated from yang/ and the plugin protocol.
// Nothing under gen/ is edited by hand: run `make gen` (go generate ./gen/...).
package gen

//go:generate go tool generator -path=../yang -output_file=tandem/tandem.go -package_name=tandem -generate_fakeroot -fakeroot_name=device -generate_getters -generate_leaf_getters -generate_append -generate_delete -generate_populate_defaults -generate_simple_unions -include_schema -include_descriptions -typedef_enum_with_defmod -shorten_enum_leaf_names ../yang/tandem-types.yang ../yang/tandem-ha.yang ../yang/tandem-ha-monitoring.yang ../yang/tandem-interfaces.yang ../yang/tandem-cluster.yang ../yang/tandem-licensing.yang ../yang/tandem-platform.yang ../yang/tandem-statesync.yang ../yang/tandem-dpi.yang ../yang/tandem-system.yang
//go:generate sed -i -E "s#[^ ]*/(github.com/openconfig/ygot@)#\\1#g" tandem/tandem.go
//go:generate gofmt -w tandem/tandem.go
//go:generate sh -c "protoc -I ../plugins/sdk/proto --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --plugin=protoc-gen-go-grpc=$(go tool -n protoc-gen-go-grpc) --go_out=. --go_opt=module=github.com/tandem-ha/tandem/gen --go-grpc_out=. --go-grpc_opt=module=github.com/tandem-ha/tandem/gen tandem/plugin/v1/plugin.proto"
