#!/usr/bin/env bash
# Lets the harness log in as root with its own key: authorizes the key once, allows root
# logins by key only, and makes sure sshd runs. Running it again changes nothing.
#
# usage: ssh.sh PUBKEY_FILE
set -euo pipefail

pubkey_file=${1:?usage: ssh.sh PUBKEY_FILE}
key=$(head -n 1 "$pubkey_file")
case "$key" in
ssh-* | ecdsa-* | sk-*) ;;
*)
    echo "ssh: $pubkey_file does not hold an OpenSSH public key" >&2
    exit 1
    ;;
esac

install -d -m 0700 /root/.ssh
[ -f /root/.ssh/authorized_keys ] || : >/root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
if grep -qxF "$key" /root/.ssh/authorized_keys; then
    echo "ssh: harness key already authorized"
else
    printf '%s\n' "$key" >>/root/.ssh/authorized_keys
    echo "ssh: harness key authorized"
fi

# A drop-in wins over the main file in Debian 12 (the first value read is kept).
conf=/etc/ssh/sshd_config.d/wiber.conf
want='# written by vagrant/provision/ssh.sh: the harness logs in as root with a key
PermitRootLogin prohibit-password
PubkeyAuthentication yes'
changed=no
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    install -d -m 0755 /etc/ssh/sshd_config.d
    printf '%s\n' "$want" >"$conf"
    changed=yes
fi

# Only a systemd-managed sshd is touched: without systemd the running sshd may not be ours.
if [ -d /run/systemd/system ]; then
    systemctl enable --now ssh >/dev/null 2>&1 || systemctl enable --now sshd
    if [ "$changed" = yes ]; then
        systemctl reload ssh 2>/dev/null || systemctl reload sshd
    fi
else
    echo "ssh: no systemd; sshd reads $conf when it next starts"
fi
