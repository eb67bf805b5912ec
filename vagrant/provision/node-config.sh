#!/usr/bin/env bash
# Writes this node's cluster file, /etc/wiber/cluster.yaml, and its id, /etc/wiber/node-id,
# so that `wiber broker --config /etc/wiber/cluster.yaml --id "$(cat /etc/wiber/node-id)"`
# starts it (docs/operations.md). Files are replaced only when their content changes.
#
# usage: node-config.sh NODE_ID ID=ADDRESS[,ID=ADDRESS...]
#        (every node gets the same plan; NODE_ID must be in it)
set -euo pipefail

node_id=${1:?usage: node-config.sh NODE_ID ID=ADDRESS[,ID=ADDRESS...]}
plan=${2:?usage: node-config.sh NODE_ID ID=ADDRESS[,ID=ADDRESS...]}
client_port=${WIBER_CLIENT_PORT:-7070}
peer_port=${WIBER_PEER_PORT:-7071}

valid_id='^[A-Za-z0-9_-]+$'
valid_address='^[0-9]{1,3}(\.[0-9]{1,3}){3}$'
[[ $node_id =~ $valid_id ]] || { echo "node-config: bad node id '$node_id'" >&2; exit 1; }

body=$(mktemp)
trap 'rm -f "$body"' EXIT
{
    echo "# written by vagrant/provision/node-config.sh"
    echo "data_dir: /var/lib/wiber/data"
    echo "nodes:"
} >"$body"
found=no
IFS=',' read -r -a entries <<<"$plan"
for entry in "${entries[@]}"; do
    id=${entry%%=*}
    address=${entry#*=}
    if ! [[ $id =~ $valid_id && $address =~ $valid_address ]]; then
        echo "node-config: bad plan entry '$entry' (want ID=ADDRESS)" >&2
        exit 1
    fi
    [ "$id" = "$node_id" ] && found=yes
    printf '  - {id: %s, host: %s, client_port: %s, peer_port: %s}\n' \
        "$id" "$address" "$client_port" "$peer_port" >>"$body"
done
[ "$found" = yes ] || { echo "node-config: $node_id is not in the plan '$plan'" >&2; exit 1; }

install -d -m 0755 /etc/wiber
replace() { # replace FILE CONTENT_FILE: only when different, atomically
    if cmp -s "$2" "$1"; then
        echo "node-config: $1 unchanged"
    else
        install -m 0644 "$2" "$1.new" && mv -f "$1.new" "$1"
        echo "node-config: wrote $1"
    fi
}
replace /etc/wiber/cluster.yaml "$body"
printf '%s\n' "$node_id" >"$body"
replace /etc/wiber/node-id "$body"
