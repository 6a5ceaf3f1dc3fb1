#!/usr/bin/env bash
# The lab demo of the tandem foundation: one unit in a network namespace,
# configured through tandemctl, applied to the kernel by the reconciler and
# the lab platform plugin. Everything it creates is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (it creates a network namespace)"; exit 1; }
BIN=$PWD/bin
NS="tdm-demo-$$"
WORK=$(mktemp -d /tmp/tandem-demo.XXXXXX)
SOCK=$WORK/tandem.sock
DAEMON=

cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }
ctl() { "$BIN/tandemctl" -socket "$SOCK" "$@"; }
addrs() { ip -n "$NS" -br addr show dev "$1" | sed 's/^/  /'; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local until=$((SECONDS + $1)); local what=$2; shift 2
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $until ] || { echo "demo: timed out waiting for $what"; exit 1; }
		sleep 0.2
	done
}

step "A unit in namespace $NS with ports X0, X1, X2 (veth x0..x2)"
ip netns add "$NS"
for i in 0 1 2; do
	ip -n "$NS" link add "x$i" type veth peer name "p$i"
	ip -n "$NS" link set "p$i" up
done
ip netns exec "$NS" "$BIN/tandemd" -data "$WORK/data" -plugins "$BIN/plugins" \
	-socket "$SOCK" -serial DEMO0001 >"$WORK/tandemd.log" 2>&1 &
DAEMON=$!
wait_for 15 "tandemd" ctl status
show ctl status

step "Configure the LAN and WAN interfaces in the candidate, then look at the diff"
ctl config set '/interfaces/interface[name=X0]/config/zone' lan
ctl config set '/interfaces/interface[name=X0]/config/ipv4-address' '["192.0.2.1/24"]'
ctl config set '/interfaces/interface[name=X1]/config/zone' wan
ctl config set '/interfaces/interface[name=X1]/config/ipv4-address' '["198.51.100.1/24"]'
ctl config set '/interfaces/interface[name=X1]/config/ipv6-address' '["2001:db8:1::1/64"]'
ctl config set /system/config/reconcile-interval 2
show ctl config diff

step "Commit: the reconciler hands the intent to the lab plugin, which applies it with netlink"
show ctl config commit -m "LAN and WAN addresses"
wait_for 10 "X1 address" sh -c "ip -n $NS addr show dev x1 | grep -q 198.51.100.1/24"
addrs x0; addrs x1

step "An invalid configuration is refused as a whole, every problem named with its path and rule"
ctl config set /platform/config/model soho-w
ctl config set /ha/config/mode active-standby
ctl config set '/interfaces/interface[name=X2]/config/bypass' true
show ctl config commit || true
show ctl config discard

step "A confirmed commit that nobody confirms is rolled back by itself (3 s here)"
ctl config set '/interfaces/interface[name=X0]/config/ipv4-address' '["192.0.2.99/24"]'
show ctl config commit -confirm 3s -m "risky change"
addrs x0
wait_for 15 "automatic rollback" sh -c "ip -n $NS addr show dev x0 | grep -q 192.0.2.1/24"
echo "  ... after the deadline:"; addrs x0

step "kill -9 the platform plugin: the host restarts it and the reconciler re-applies its intent"
PID=$(ctl status -json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p' | head -1)
show kill -9 "$PID"
ip -n "$NS" addr flush dev x1 scope global
echo "  (addresses of X1 removed by hand while the plugin is down)"
wait_for 20 "re-applied addresses" sh -c "ip -n $NS addr show dev x1 | grep -q 198.51.100.1/24"
show ctl status
addrs x1

step "Drift in the kernel is corrected at the next reconcile (every 2 s here)"
show ip -n "$NS" addr del 192.0.2.1/24 dev x0
wait_for 10 "drift correction" sh -c "ip -n $NS addr show dev x0 | grep -q 192.0.2.1/24"
addrs x0

step "Carrier loss on X1 is reported from the plugin's netlink subscription"
show ip -n "$NS" link set p1 down
wait_for 10 "link-down event" sh -c "$BIN/tandemctl -socket $SOCK events | grep -q link-down"
show ctl state '/interfaces/interface[name=X1]/state/oper-status'

step "History and the HA event log"
show ctl config history
show ctl events

step "Done: namespace, daemon and plugin removed"
