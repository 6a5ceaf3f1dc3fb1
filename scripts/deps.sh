#!/usr/bin/env bash
# Installs what tandem's build, tests and demo need on a Debian machine,
# skipping whatever is already there. Safe to run again.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have yanglint || need+=(libyang2-tools)
have nft || need+=(nftables)
have conntrack || need+=(conntrack)
have ip || need+=(iproute2)
have protoc || need+=(protobuf-compiler)
have git || need+=(git)
have curl || need+=(curl ca-certificates)
have script || need+=(util-linux)
have dnsmasq || need+=(dnsmasq-base)
have ansible-playbook || need+=(ansible)
python3 -c 'import ncclient' 2>/dev/null || need+=(python3-ncclient)
python3 -c 'import xmltodict' 2>/dev/null || need+=(python3-xmltodict)

if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing ${need[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "deps: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
go mod download

# gnmic, the gNMI client the gNMI tests drive, from the Go module proxy. Releases from
# v0.37 on replace their own pkg/api and pkg/cache with directories the module zip lacks,
# and the proxy serves inet.af/netaddr only under its GitHub path; v0.37.0 builds with
# those replacements dropped (a few minutes, once).
gobin="$(go env GOPATH)/bin"
if ! command -v gnmic >/dev/null 2>&1 && [ ! -x "$gobin/gnmic" ]; then
	echo "deps: building gnmic v0.37.0 into $gobin"
	go mod download github.com/openconfig/gnmic@v0.37.0
	src=$(mktemp -d)
	cp -r "$(go env GOMODCACHE)/github.com/openconfig/gnmic@v0.37.0/." "$src"
	chmod -R u+w "$src"
	(cd "$src" && go mod edit -dropreplace=github.com/openconfig/gnmic/pkg/api@v0.1.7 \
		-dropreplace=github.com/openconfig/gnmic/pkg/cache@v0.1.3 \
		-replace=inet.af/netaddr=github.com/inetaf/netaddr@v0.0.0-20230525184311-b8eac61e914a &&
		GOFLAGS=-mod=mod go install .)
	rm -rf "$src"
fi
