#!/bin/bash
# Run cryptkeeper's tests through tox: the unit tests of the service and
# of its client by default, or the tox environments given
# (e.g. ./run-tests.sh pep8,functional).
# Installs tox into .tox/bootstrap when it is not on PATH, so a fresh
# machine needs only Python 3 and pip.
set -euo pipefail
cd "$(dirname "$0")"

if command -v tox >/dev/null 2>&1; then
    TOX=tox
else
    if [ ! -x .tox/bootstrap/bin/tox ]; then
        python3 -m venv .tox/bootstrap
        .tox/bootstrap/bin/pip install --quiet --upgrade pip
        .tox/bootstrap/bin/pip install --quiet 'tox>=4'
    fi
    TOX=.tox/bootstrap/bin/tox
fi

exec "$TOX" -e "${1:-py3,client}" "${@:2}"
