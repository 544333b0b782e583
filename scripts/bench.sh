#!/usr/bin/env bash
# The benchmark (README: "Benchmarks"; not part of the test command). Installs the AWS API
# emulator if missing, builds the functions and the benchmark in release mode, then measures and
# writes docs/benchmarks.md and docs/benchmarks.json. Arguments go to newborn-bench, e.g.
#   ./scripts/bench.sh --applications 2000 --skip-cold-start
# A cold release build takes about 25 minutes on 2 cores (the functions and the benchmark are
# built with different panic strategies, so their dependencies twice); the default run about 7 more.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh
functions=()
for f in functions/*/; do
  functions+=(-p "newborn-fn-$(basename "$f")")
done
echo "== release build: the functions (from functions/, whose .cargo/config.toml makes them abort on panic, as sam build does) and the benchmark"
(cd functions && cargo build --release "${functions[@]}")
cargo build --release -p newborn-bench
echo "== measuring"
exec ./target/release/newborn-bench "$@"
