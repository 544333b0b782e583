#!/usr/bin/env bash
# Builds the nine functions exactly as docs/deploy.md has an operator build them: `sam build`
# for arm64 (SAM CLI and cargo-lambda from PyPI into .venv-deploy; cargo-lambda cross-compiles
# with Zig, which its PyPI package brings), then reports each bootstrap's size and zipped size.
# Not part of the test command (it takes ~25 minutes on 2 cores); scripts/template.sh checks
# in seconds that the template is buildable.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh deploy
rustup target add aarch64-unknown-linux-gnu
export PATH="$PWD/.venv-deploy/bin:$PATH"
export SAM_CLI_TELEMETRY=0
start=$(date +%s)
sam build --template-file template.yaml --build-dir .aws-sam/build --beta-features
end=$(date +%s)
echo "sam build: $((end - start)) s"
printf '%-34s %12s %12s\n' function bootstrap zipped
for dir in .aws-sam/build/*Function; do
  boot="$dir/bootstrap"
  [ -f "$boot" ] || { echo "missing: $boot" >&2; exit 1; }
  zipped=$(python3 -c 'import io,sys,zipfile; b=io.BytesIO(); z=zipfile.ZipFile(b,"w",zipfile.ZIP_DEFLATED); z.write(sys.argv[1],"bootstrap"); z.close(); print(len(b.getvalue()))' "$boot")
  printf '%-34s %12s %12s\n' "$(basename "$dir")" "$(stat -c %s "$boot")" "$zipped"
  file "$boot" 2>/dev/null | grep -q "aarch64" || echo "  (not an arm64 binary: $(file -b "$boot" 2>/dev/null))"
done
