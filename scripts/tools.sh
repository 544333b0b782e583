#!/usr/bin/env bash
# Installs the Python tools the tests use into .venv (once): moto's server mode (the AWS API
# emulator), cfn-lint and schemathesis, at pinned versions from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
want="moto[server]==5.1.18 cfn-lint==1.58.0 schemathesis==4.32.5"
stamp=.venv/.tools
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "installing test tools into .venv: $want"
[ -x .venv/bin/python ] || python3 -m venv .venv
# shellcheck disable=SC2086
.venv/bin/pip install --quiet --disable-pip-version-check $want
echo "$want" > "$stamp"
