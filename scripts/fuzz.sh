#!/usr/bin/env bash
# Fuzzes the form parser and the webhook signature verifier for a bounded time each (default 60 s;
# ./scripts/fuzz.sh 600 for ten minutes). Needs the nightly toolchain (rustup installs it) and
# cargo-fuzz (installed here on first use). Not part of the test command. Findings land in
# fuzz/artifacts/<target>/; reproduce one with `cargo +nightly fuzz run <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/form fuzz/corpus/signature
cp events/api/submit-application.json fuzz/corpus/form/sample.json
for target in form signature; do
  echo "== fuzzing $target for $seconds s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048
done
