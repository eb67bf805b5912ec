#!/usr/bin/env bash
# System packages and directories a Wiber node needs on a plain Debian 12 machine, including
# the tools the harness's nemeses drive (iptables, tc with netem, chrony/date, libfaketime).
# Installs only what is missing, so a second run changes nothing.
#
# WIBER_SKIP_PACKAGES=1 reports missing packages instead of installing them (for a throwaway
# root without a package mirror); everything else still runs.
set -euo pipefail

packages=(
    python3 python3-venv   # the broker and the venv it lives in
    openssh-server sudo    # the harness drives every node over SSH as root
    iptables iproute2 kmod # partitions and loss (iptables), delay (tc netem, its module)
    chrony                 # chronyc makestep puts a stepped clock back
    faketime               # clock skew for one process where the clock cannot be stepped
    procps psmisc          # pgrep, kill, fuser: finding and signalling daemons
)

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system: all packages present"
elif [ "${WIBER_SKIP_PACKAGES:-0}" = 1 ]; then
    echo "system: WIBER_SKIP_PACKAGES=1, not installing: ${missing[*]}"
else
    echo "system: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

install -d -m 0755 /etc/wiber /var/lib/wiber /var/lib/wiber-harness /var/log/wiber

# What the nemeses can use here: a container shares its host's kernel, so netem may be
# missing and the clock may not be steppable; the harness reads this file to choose.
netem=no
if command -v tc >/dev/null; then
    modprobe -q sch_netem 2>/dev/null || true
    # Probe on loopback only when nothing else is installed there.
    if tc qdisc show dev lo 2>/dev/null | grep -q '^qdisc noqueue' &&
        tc qdisc add dev lo root netem delay 0ms 2>/dev/null; then
        tc qdisc del dev lo root
        netem=yes
    fi
fi
faketime_lib=$(find /usr/lib -maxdepth 3 -path '*/faketime/libfaketime.so.1' -print -quit 2>/dev/null || true)
have() { if command -v "$1" >/dev/null; then echo yes; else echo no; fi; }

tools=$(mktemp)
cat >"$tools" <<FACTS
# written by vagrant/provision/system.sh
netem=$netem
iptables=$(have iptables)
chronyc=$(have chronyc)
libfaketime=${faketime_lib}
FACTS
if cmp -s "$tools" /etc/wiber/tools; then
    rm -f "$tools"
else
    install -m 0644 "$tools" /etc/wiber/tools
    rm -f "$tools"
fi
echo "system: tools: $(grep -v '^#' /etc/wiber/tools | tr '\n' ' ')"
