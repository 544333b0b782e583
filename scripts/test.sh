#!/usr/bin/env bash
# The one command that runs every check and test of the project (README: "Run every test").
# It installs whatever the tests need that a fresh machine with only Rust and Python lacks.
# The full `sam build` of the functions is not part of it: ./scripts/deploy-check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# A run from a clean clone gains nothing from incremental compilation, and its cache (30 GB in one
# long-lived working tree) is what filled the disk CI shares. Set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Each phase is announced with the seconds since the start, so a slow run shows where time goes.
phase() { echo "== [$(printf '%4d' "$SECONDS") s] $*"; }

phase "test tools (moto, SAM translator, cfn-lint, schemathesis into .venv)"
./scripts/tools.sh
phase "format"
cargo fmt --all --check
phase "domain layers (no import cycle inside shared/domain)"
python3 scripts/domain-layers.py
phase "rules ledger (docs/rules.md: every tested rule named by a test, no test naming an unknown rule)"
python3 scripts/rules-ledger.py
phase "lint"
cargo clippy --workspace --all-targets --quiet -- -D warnings
phase "template (cfn-lint for China and global regions, buildable by sam build, sam validate, checkov)"
./scripts/template.sh
phase "function binaries (the deployed-shape test runs them as Lambda does)"
cargo build --workspace --bins
phase "tests"
cargo test --workspace --all-targets
cargo test --workspace --doc --quiet
phase "API contract (schemathesis against the OpenAPI document)"
./scripts/schemathesis.sh
phase "done"
