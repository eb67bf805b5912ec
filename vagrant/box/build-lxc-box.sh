#!/usr/bin/env bash
# Builds the Debian 12 box the lxc provider uses (wiber/bookworm-lxc) from the Debian mirror
# this host already uses, and adds it to Vagrant. No prebuilt image is downloaded.
#
# The image holds every package provision/system.sh wants, so provisioning needs no network
# (the cluster's bridge is isolated), plus what Vagrant itself needs: dbus (hostnamectl sets
# the hostname through it), systemd-networkd, sudo, and root's authorized key. Every container gets its own
# machine-id and SSH host keys at first boot.
#
# usage: build-lxc-box.sh [PUBKEY (default ../.wiber/harness_key.pub, made if missing)]
# env:   WIBER_LXC_BOX (box name, default wiber/bookworm-lxc), WIBER_DEBIAN_MIRROR (default:
#        the first Debian mirror in this host's apt sources), WIBER_SUITE (default bookworm)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
pubkey=${1:-$here/../.wiber/harness_key.pub}
box_name=${WIBER_LXC_BOX:-wiber/bookworm-lxc}
suite=${WIBER_SUITE:-bookworm}

for tool in debootstrap vagrant tar ssh-keygen; do
    command -v "$tool" >/dev/null || { echo "build-lxc-box: needs $tool" >&2; exit 1; }
done
if [ ! -f "$pubkey" ]; then
    mkdir -p "$(dirname "$pubkey")"
    ssh-keygen -q -t ed25519 -N '' -C wiber-harness -f "${pubkey%.pub}"
fi

mirror=${WIBER_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
        grep -v security | head -n 1 || true)
fi
if [ -z "$mirror" ]; then
    mirror=$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n 1 || true)
fi
[ -n "$mirror" ] || { echo "build-lxc-box: set WIBER_DEBIAN_MIRROR" >&2; exit 1; }

scratch=$(mktemp -d /var/tmp/wiber-lxc-box.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
rootfs=$scratch/rootfs

packages=python3,python3-venv,openssh-server,sudo,iptables,iproute2,kmod,chrony,faketime
packages=$packages,procps,psmisc,dbus,systemd-sysv,iputils-ping,ca-certificates
echo "build-lxc-box: debootstrap $suite from $mirror (a few minutes)"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
    >"$scratch/debootstrap.log" 2>&1 || { tail -20 "$scratch/debootstrap.log" >&2; exit 1; }

install -d -m 0700 "$rootfs/root/.ssh"
install -m 0600 "$pubkey" "$rootfs/root/.ssh/authorized_keys"
# Clones of one image must not share identities: an empty machine-id is filled at first boot
# (a shared one gives every node the same DHCP client id), and host keys are made there too.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat >"$rootfs/etc/systemd/system/ssh-host-keys.service" <<'UNIT'
[Unit]
Description=Make this container's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/ssh-host-keys.service \
    "$rootfs/etc/systemd/system/multi-user.target.wants/ssh-host-keys.service"
# After setting the hostname Vagrant restarts networkd when it runs; otherwise it restarts
# ifup@eth0, which hangs in a container whose address LXC set. networkd leaves eth0 alone
# (no .network file matches it), and nothing here should wait for it to be "online".
chroot "$rootfs" systemctl enable systemd-networkd.service >/dev/null 2>&1
chroot "$rootfs" systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1
# A container must never try to discipline the clock it shares with its host; chronyc stays
# for real machines, where system.sh finds it too.
chroot "$rootfs" systemctl mask chrony.service >/dev/null 2>&1
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

# vagrant-lxc unpacks with --strip-components=2: entries must read ./rootfs/...
install -d "$scratch/box"
tar -C "$scratch" --numeric-owner -I 'gzip -1' -cf "$scratch/box/rootfs.tar.gz" ./rootfs
printf '{"provider": "lxc", "version": "1.0.0", "built-on": "%s"}\n' "$(date -u +%F)" \
    >"$scratch/box/metadata.json"
tar -C "$scratch/box" -cf "$scratch/wiber.lxc.box" metadata.json rootfs.tar.gz
vagrant box add --force --name "$box_name" "$scratch/wiber.lxc.box"
echo "build-lxc-box: added $box_name"
