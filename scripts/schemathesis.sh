#!/usr/bin/env bash
# Runs schemathesis (from PyPI, installed into .venv on first use) against the local service,
# driven by its OpenAPI document: no server error, no undocumented status or content type, no
# response that breaks the schema. Bounded: a fixed seed and 25 examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh
cargo build --quiet --bin newborn
data=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
api=$(port); sim=$(port)
./target/debug/newborn serve --data-dir "$data" --listen "127.0.0.1:$api" --simulator-listen "127.0.0.1:$sim" --agency-delay-ms 50 > "$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$api/health', timeout=1)" 2>/dev/null && break
  sleep 0.1
done
token=$(./target/debug/newborn token --data-dir "$data" --subject schemathesis)
.venv/bin/st run "http://127.0.0.1:$api/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  -n 25 --seed 20251117 --generation-database none --phases examples,coverage,fuzzing --request-timeout 10
if grep -q "panicked" "$data/serve.log"; then
  echo "the service panicked during the schemathesis run:" >&2
  grep -A3 "panicked" "$data/serve.log" >&2
  exit 1
fi
