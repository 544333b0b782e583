#!/usr/bin/env bash
# Installs what the tests use that a fresh machine lacks (once): Debian's chromium and a CJK font
# (the operator page test renders the page headless), and into .venv moto's server mode (the AWS
# API emulator), cfn-lint, schemathesis and standardwebhooks (the webhook interop test), at pinned
# versions from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi"; then
  echo "installing Debian's chromium and fonts-wqy-microhei (operator page test)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
fi
want="moto[server]==5.1.18 cfn-lint==1.58.0 schemathesis==4.32.5 standardwebhooks==1.1.0"
stamp=.venv/.tools
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "installing test tools into .venv: $want"
# A .venv left half-made by an interrupted first run (python, no pip) is made again.
[ -x .venv/bin/pip ] || python3 -m venv --clear .venv
# shellcheck disable=SC2086
.venv/bin/pip install --quiet --disable-pip-version-check $want
echo "$want" > "$stamp"
