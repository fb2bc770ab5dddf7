"""The script the bundle carries to install the toolchain on the island admin host, offline."""

from __future__ import annotations

TEMPLATE = """\
#!/bin/sh
# Installs the wire-bundle admin-host toolchain from this directory, with no network:
#   sh install.sh [VENV_DIR] [COLLECTIONS_DIR]
# VENV_DIR (default /opt/wire-bundle/venv) gets ansible-core, ansible-runner, wire-bundle and their
# dependencies from wheels/; COLLECTIONS_DIR (default /opt/wire-bundle/collections) gets the Ansible
# collections from collections/ (point ANSIBLE_COLLECTIONS_PATH at it). PYTHON picks the interpreter.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${{1:-/opt/wire-bundle/venv}}
collections=${{2:-/opt/wire-bundle/collections}}
python=${{PYTHON:-python3}}

have=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$have" != "{python}" ]; then
  echo "install.sh: these wheels are for Python {python}, but $python is $have (set PYTHON=python{python})" >&2
  exit 1
fi

"$python" -m venv "$venv"
# No index, no pip configuration: only the wheels beside this script, each checked against its hash.
PIP_CONFIG_FILE=/dev/null "$venv/bin/pip" install --quiet --no-index --find-links "$here/wheels" \\
  --require-hashes -r "$here/requirements.txt"

set -- "$here"/collections/*.tar.gz
if [ -e "$1" ]; then
  "$venv/bin/ansible-galaxy" collection install --offline -p "$collections" "$@"
fi
echo "install.sh: toolchain in $venv, collections in $collections"
"""


def render(python: str) -> str:
    return TEMPLATE.format(python=python)
