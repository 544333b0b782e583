#!/usr/bin/env bash
# The one command that runs every check and test of the project (README: "Run every test").
# It installs whatever the tests need that a fresh machine with only Rust and Python lacks.
# The full `sam build` of the functions is not part of it: ./scripts/deploy-check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# A run from a clean clone gains nothing from incremental compilation, and its cache (30 GB in one
# long-lived working tree) is what filled the disk CI shares. Set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Clippy lints the workspace while the test build compiles it, instead of in a `cargo clippy` pass
# of its own: `cargo clippy` is `cargo check` with clippy-driver as the workspace's compiler
# wrapper, and `check` compiles every dependency a second time (metadata only, 9 of a fresh
# clone's 42 minutes). The same wrapper and arguments on `cargo build`/`cargo test` lint what
# `cargo clippy --all-targets` lints (the workspace has no benches or examples; the binaries
# without unit tests, `test = false`, are linted in their own build) with `-D warnings`; a lint
# is a compile error of the build phase. Dependencies are compiled by rustc alone, as under
# `cargo clippy`.
export RUSTC_WORKSPACE_WRAPPER="${RUSTC_WORKSPACE_WRAPPER-$(command -v clippy-driver || true)}"
if [ -z "$RUSTC_WORKSPACE_WRAPPER" ]; then
  echo "clippy-driver is missing: rustup component add clippy" >&2
  exit 1
fi
export CLIPPY_ARGS="${CLIPPY_ARGS--D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__}"
# Each phase is announced with the seconds since the start, so a slow run shows where time goes.
phase() { echo "== [$(printf '%4d' "$SECONDS") s] $*"; }

# The Python tools download while cargo compiles (network against CPU); their output is shown
# when they are waited for.
phase "test tools, in the background (moto, SAM translator, cfn-lint, schemathesis into .venv; SAM CLI, cargo-lambda, checkov)"
tools_log=$(mktemp)
trap 'rm -f "$tools_log"' EXIT
( ./scripts/tools.sh && ./scripts/tools.sh deploy ) > "$tools_log" 2>&1 &
tools=$!
wait_tools() {
  if [ -n "${tools:-}" ]; then
    local status=0
    wait "$tools" || status=$?
    cat "$tools_log"
    tools=""
    [ "$status" = 0 ] || { echo "installing the test tools failed (status $status)" >&2; exit "$status"; }
  fi
}
phase "format"
cargo fmt --all --check
phase "domain layers (no import cycle inside shared/domain)"
python3 scripts/domain-layers.py
phase "rules ledger (docs/rules.md: every tested rule named by a test, no test naming an unknown rule)"
python3 scripts/rules-ledger.py
phase "build and lint (clippy -D warnings): function binaries (the deployed-shape test runs them as Lambda does), then every test target"
cargo build --workspace --bins
cargo test --workspace --no-run --quiet
phase "waiting for the test tools"
wait_tools
phase "template (cfn-lint for China and global regions, buildable by sam build, sam validate, checkov)"
./scripts/template.sh
phase "tests"
cargo test --workspace
cargo test --workspace --doc --quiet
phase "API contract (schemathesis against the OpenAPI document)"
./scripts/schemathesis.sh
phase "done"
