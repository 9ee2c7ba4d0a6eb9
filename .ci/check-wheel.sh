#!/usr/bin/env bash
# Build the wheel as a release does (maturin with zig as the linker: manylinux2014, so
# glibc 2.17+; check-manylinux.sh checks it with auditwheel), install it into a fresh
# virtualenv outside the source tree and run an example flow with it: proves the wheel
# needs no Rust toolchain and no sources. The tools come from `make dist-tools`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$root" && PATH="$root/.venv/bin:$PATH" maturin build --quiet --release --zig --compatibility manylinux2014 \
    --out "$work/dist")
bash "$root/.ci/check-manylinux.sh" "$work"/dist/ferroflow-*.whl
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/ferroflow-*.whl
cp "$root/examples/etl.py" "$work/etl.py"
cd "$work"
# No source tree, no cargo: only the installed wheel.
env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" \
    "$work/venv/bin/ferroflow" run etl.py --param n=1000 --no-progress
env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" \
    "$work/venv/bin/python" -c "import ferroflow, sys; assert 'site-packages' in ferroflow.__file__, ferroflow.__file__; print('wheel OK:', ferroflow.__file__)"
# The plugin starter kit from the wheel: its templates are package data inside it
# (named *.tmpl, none of them a .gitignore, which maturin would obey).
env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" "$work/venv/bin/ferroflow" plugin new notifier probe
for f in pyproject.toml README.md .gitignore src/ferroflow_probe/__init__.py tests/conftest.py tests/test_conformance.py; do
    test -s "$work/ferroflow-probe/$f" || { echo "ferroflow plugin new: $f is missing" >&2; exit 1; }
done
"$work/venv/bin/python" -m py_compile "$work/ferroflow-probe/src/ferroflow_probe/__init__.py" \
    "$work/ferroflow-probe/tests/test_conformance.py"
grep -q '^probe = "ferroflow_probe"$' "$work/ferroflow-probe/pyproject.toml"
echo "wheel plugin new OK"
# The web UI from the wheel: its templates and static files are inside it (no CDN, no
# source tree): the server answers the dashboard and the stylesheet.
port=$("$work/venv/bin/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" \
    "$work/venv/bin/ferroflow" server start --port "$port" --database "sqlite:///$work/ui.db" --no-scheduler \
    > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" "$work/venv/bin/python" - "$port" <<'PY' || { cat "$work/server.log"; exit 1; }
import sys, time, httpx
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(300):
    try:
        if httpx.get(base + "/api/v1/health").status_code == 200:
            break
    except httpx.TransportError:
        time.sleep(0.1)
page = httpx.get(base + "/")
assert page.status_code == 200 and "<h1>Dashboard</h1>" in page.text, page.text[:500]
for asset in ("/static/ui.css", "/static/ui.js"):
    assert httpx.get(base + asset).status_code == 200, asset
print("wheel web UI OK")
PY
