#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtualenv outside the source tree and run
# an example flow with it: proves the wheel needs no Rust toolchain and no sources.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$root/.venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$root"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/ferroflow-*.whl
cp "$root/examples/etl.py" "$work/etl.py"
cd "$work"
# No source tree, no cargo: only the installed wheel.
env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" \
    "$work/venv/bin/ferroflow" run etl.py --param n=1000 --no-progress
env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" \
    "$work/venv/bin/python" -c "import ferroflow, sys; assert 'site-packages' in ferroflow.__file__, ferroflow.__file__; print('wheel OK:', ferroflow.__file__)"
