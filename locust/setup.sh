#!/usr/bin/env bash
# locust/setup.sh - create the Python venv for the load tools (Locust, the data set
# generator and the zero-loss audit) and install locust/requirements.txt into it.
# Idempotent: does nothing when the venv already has exactly these requirements.
# Called by `./build.sh setup`; safe to run by hand.
#
#   locust/setup.sh            # venv in $CACHE_DIR/venv (default <repo>/.cache/venv)
#   locust/setup.sh --force    # recreate the venv
#   VENV_DIR=/some/where locust/setup.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
case "${1:-}" in
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
force=0; [ "${1:-}" = "--force" ] && force=1

if [ -z "${LOCUST_VERSION:-}" ] && [ -f "$root/stack/versions.env" ]; then
    # shellcheck disable=SC1091
    . "$root/stack/versions.env"
fi
req=$here/requirements.txt
if [ -n "${LOCUST_VERSION:-}" ] && ! grep -qx "locust==$LOCUST_VERSION" "$req"; then
    echo "locust/setup.sh: requirements.txt does not pin locust==$LOCUST_VERSION (stack/versions.env)" >&2
    exit 1
fi

venv=${VENV_DIR:-${CACHE_DIR:-$root/.cache}/venv}
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
py=${PYTHON:-python3}

if [ "$force" = 0 ] && [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
   && "$venv/bin/python" -c 'import locust, pymongo, redis, psycopg2' 2>/dev/null; then
    echo "    ok venv $venv is up to date (locust $("$venv/bin/python" -c 'import locust; print(locust.__version__)'))"
    exit 0
fi

"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
    || { echo "locust/setup.sh: Python >= 3.9 needed ($py is $("$py" -V 2>&1))" >&2; exit 1; }
if [ "$force" = 1 ]; then rm -rf "$venv"; fi
if [ ! -x "$venv/bin/python" ]; then
    echo "    creating venv $venv"
    mkdir -p "$(dirname "$venv")"
    "$py" -m venv "$venv" || { echo "locust/setup.sh: 'python3 -m venv' failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
echo "    installing $(grep -cv '^\s*#' "$req") packages from locust/requirements.txt (progress below)"
"$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$req" 2>&1 \
    | grep -E --line-buffered '^(Collecting|Successfully|ERROR|error)' | sed 's/^/    /'
status=${PIPESTATUS[0]}
if [ "$status" != 0 ]; then
    echo "locust/setup.sh: pip install failed (exit $status)" >&2
    exit 1
fi
"$venv/bin/python" -c 'import locust, pymongo, redis, psycopg2' \
    || { echo "locust/setup.sh: packages installed but not importable" >&2; exit 1; }
echo "$want" > "$stamp"
echo "    ok locust $("$venv/bin/python" -c 'import locust; print(locust.__version__)') in $venv"
