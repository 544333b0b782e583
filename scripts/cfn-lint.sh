#!/usr/bin/env bash
# Lints template.yaml with cfn-lint (from PyPI, installed into .venv on first use) for the China
# regions and a global region: the same template must deploy in both partitions.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh
.venv/bin/cfn-lint template.yaml --regions cn-north-1 cn-northwest-1 us-east-1
echo "cfn-lint: template.yaml has no errors or warnings for cn-north-1, cn-northwest-1 and us-east-1"
