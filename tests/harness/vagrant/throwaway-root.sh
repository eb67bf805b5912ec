#!/usr/bin/env bash
# Runs a command as if on a fresh node: inside new mount, network, UTS and PID namespaces
# (start it under `unshare --mount --net --uts --pid --fork`), chrooted into SCRATCH, which
# sees the host's /usr and package database read-only and its own copy of /etc, so that
# provisioning writes land in SCRATCH and nowhere else. The PID namespace ends with the
# command, taking any daemon it started along.
#
# usage: throwaway-root.sh SCRATCH PROVISION_DIR WHEELHOUSE COMMAND...
set -euo pipefail

root=${1:?usage: throwaway-root.sh SCRATCH PROVISION_DIR WHEELHOUSE COMMAND...}
provision=${2:?}
wheelhouse=${3:?}
shift 3

# Never let a mount made here show up on the host, whatever unshare's defaults are.
mount --make-rprivate /

mkdir -p "$root"/{usr,etc,dev,proc,tmp,root,opt,run,var/lib/dpkg,usr-local,provision,wheelhouse}
chmod 1777 "$root/tmp"
for link in bin sbin lib lib64; do
    if [ -L "/$link" ] && [ ! -L "$root/$link" ]; then
        ln -s "$(readlink "/$link")" "$root/$link"
    fi
done
if [ ! -f "$root/etc/.copied" ]; then
    cp -a /etc/. "$root/etc/"
    rm -f "$root/etc/ssh/sshd_config.d/wiber.conf"
    touch "$root/etc/.copied"
fi

readonly_bind() {
    mount --bind "$1" "$2"
    mount -o remount,bind,ro "$2"
}
readonly_bind /usr "$root/usr"
mount --bind "$root/usr-local" "$root/usr/local"
readonly_bind /var/lib/dpkg "$root/var/lib/dpkg"
readonly_bind "$provision" "$root/provision"
readonly_bind "$wheelhouse" "$root/wheelhouse"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"

ip link set lo up
exec chroot "$root" "$@"
