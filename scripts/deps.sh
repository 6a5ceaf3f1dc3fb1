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
