#!/usr/bin/env bash
# Lints template.yaml with cfn-lint (from PyPI, installed into .venv on first use) for the China
# regions and a global region: the same template must deploy in both partitions.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh
.venv/bin/cfn-lint template.yaml --regions cn-north-1 cn-northwest-1 us-east-1
echo "cfn-lint: template.yaml has no errors or warnings for cn-north-1, cn-northwest-1 and us-east-1"
# The dashboard body is JSON inside a !Sub: check it parses once the substitutions are filled in.
python3 - <<'PY'
import json, re, sys
text = open("template.yaml", encoding="utf-8").read()
m = re.search(r"DashboardBody: !Sub \|\n((?:        .*\n|\n)+)", text)
if not m:
    sys.exit("template.yaml: no dashboard body")
body = re.sub(r"\$\{[^}]+\}", "x", m.group(1))
widgets = json.loads(body)["widgets"]
print(f"dashboard: {len(widgets)} widgets, valid JSON")
PY
