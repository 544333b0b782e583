#!/usr/bin/env bash
# The one command that runs every check and test of the project (README: "Run every test").
# It installs whatever the tests need that a fresh machine with only Rust and Python lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test tools (moto, cfn-lint, schemathesis into .venv)"
./scripts/tools.sh
echo "== format"
cargo fmt --all --check
echo "== lint"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== tests"
cargo test --workspace --all-targets
cargo test --workspace --doc --quiet
echo "== template (cfn-lint, China and global regions)"
./scripts/cfn-lint.sh
echo "== API contract (schemathesis against the OpenAPI document)"
./scripts/schemathesis.sh
