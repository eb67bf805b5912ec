#!/usr/bin/env bash
# The host side of the lxc provider: a bridge carrying the cluster's private /24, with the host
# at .1. vagrant-lxc attaches each container's veth to it (see the Vagrantfile). The bridge is
# isolated: no NAT, no forwarding, so containers reach only each other and the host.
#
# usage: lxc-bridge.sh up|down [NETWORK (three octets, default 192.168.56)] [BRIDGE]
set -euo pipefail

action=${1:?usage: lxc-bridge.sh up|down [NETWORK] [BRIDGE]}
network=${2:-${WIBER_NETWORK:-192.168.56}}
bridge=${3:-${WIBER_LXC_BRIDGE:-wibervbr0}}

if ! [[ $network =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; then
    echo "lxc-bridge: NETWORK must be three octets such as 192.168.56, not '$network'" >&2
    exit 1
fi

case "$action" in
up)
    ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
    ip addr replace "$network.1/24" dev "$bridge"
    ip link set "$bridge" up
    ;;
down)
    if ip link show "$bridge" >/dev/null 2>&1; then
        ip link del "$bridge"
    fi
    ;;
*)
    echo "lxc-bridge: unknown action '$action' (up or down)" >&2
    exit 1
    ;;
esac
