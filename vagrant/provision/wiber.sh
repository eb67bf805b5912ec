#!/usr/bin/env bash
# Installs Wiber into /opt/wiber/venv from wheels built on the host, without a package index,
# and links `wiber` into /usr/local/bin. A second run with the same wheels changes nothing;
# new wheels (even with the same version number) are installed over the old ones.
#
# usage: wiber.sh WHEELHOUSE_DIR
set -euo pipefail

wheelhouse=${1:?usage: wiber.sh WHEELHOUSE_DIR}
venv=/opt/wiber/venv
stamp=/opt/wiber/wheelhouse.sha256

shopt -s nullglob
wheels=("$wheelhouse"/wiber-*.whl)
if [ "${#wheels[@]}" -eq 0 ]; then
    echo "wiber: no wiber-*.whl in $wheelhouse" >&2
    exit 1
fi

want=$(cd "$wheelhouse" && sha256sum -- *.whl | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/wiber" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "wiber: already installed from these wheels"
else
    install -d -m 0755 /opt/wiber
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --no-index --find-links "$wheelhouse" \
        --force-reinstall wiber
    echo "$want" >"$stamp"
    version=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("wiber"))')
    echo "wiber: installed wiber $version from $wheelhouse"
fi
install -d -m 0755 /usr/local/bin
if [ "$(readlink /usr/local/bin/wiber || true)" != "$venv/bin/wiber" ]; then
    ln -sfn "$venv/bin/wiber" /usr/local/bin/wiber
fi
