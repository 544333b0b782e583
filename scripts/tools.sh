#!/usr/bin/env bash
# Installs what the tests use that a fresh machine lacks (once), at pinned versions from PyPI.
#
#   ./scripts/tools.sh          Debian's chromium and a CJK font (the operator page test renders
#                               the page headless), and into .venv: moto's server mode (the AWS
#                               API emulator), the AWS SAM translator (the deployed-shape test
#                               transforms template.yaml as CloudFormation does), cfn-lint,
#                               schemathesis and standardwebhooks (the webhook interop test).
#   ./scripts/tools.sh deploy   into .venv-deploy: the AWS SAM CLI and cargo-lambda (which brings
#                               Zig for cross-compiling to arm64); into .venv-checkov, checkov
#                               (its pins conflict with the SAM CLI's).
set -euo pipefail
cd "$(dirname "$0")/.."

# venv <dir> <packages>: (re)creates the virtual environment when its stamp differs.
venv() {
  local dir=$1 want=$2 stamp="$1/.tools"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "installing into $dir: $want"
  # A venv left half-made by an interrupted first run (python, no pip) is made again.
  [ -x "$dir/bin/pip" ] || python3 -m venv --clear "$dir"
  # shellcheck disable=SC2086
  "$dir/bin/pip" install --quiet --disable-pip-version-check $want
  echo "$want" > "$stamp"
}

if [ "${1:-}" = deploy ]; then
  venv .venv-deploy "aws-sam-cli==1.170.0 cargo-lambda==1.9.2"
  venv .venv-checkov "checkov==3.3.30"
  exit 0
fi
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi"; then
  echo "installing Debian's chromium and fonts-wqy-microhei (operator page test)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
fi
venv .venv "moto[server]==5.1.18 aws-sam-translator==1.115.0 cfn-lint==1.58.0 schemathesis==4.32.5 standardwebhooks==1.1.0"
