#!/usr/bin/env bash
# Check what `make dist` built into dist/ (or the folder given): the ferroflow wheel is
# manylinux2014 or older (auditwheel show), every file passes `twine check --strict`,
# each distribution is there once at the one version (Cargo.toml's), the wheel installs
# with the notifier extras taken from dist/, and the sdist builds (with Rust) and installs
# in a fresh virtualenv and runs a flow there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "${1:-$root/dist}" && pwd)
tools="$root/.venv/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The one version: Cargo.toml's [workspace.package] version.
version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$root/Cargo.toml")
echo "check-dist: version $version in $dist"

# Each distribution once, at the one version.
for name in ferroflow ferroflow_dask ferroflow_ray ferroflow_webhook ferroflow_slack ferroflow_email; do
  for kind in "-$version-*.whl" "-$version.tar.gz"; do
    # shellcheck disable=SC2086
    n=$(ls "$dist"/$name$kind 2>/dev/null | wc -l)
    [ "$n" = 1 ] || { echo "check-dist: expected one $name$kind in $dist, found $n" >&2; ls "$dist" >&2; exit 1; }
  done
done
n=$(ls "$dist" | wc -l)
[ "$n" = 12 ] || { echo "check-dist: expected 12 files in $dist, found $n" >&2; ls "$dist" >&2; exit 1; }

# The compiled wheel: installable on glibc 2.17+ (manylinux2014 or older).
wheel=$(ls "$dist"/ferroflow-"$version"-*.whl)
bash "$root/.ci/check-manylinux.sh" "$wheel"

"$tools/twine" check --strict "$dist"/*

run_flow() {  # run_flow VENV: the example flow and --version, outside the source tree
  cp "$root/examples/etl.py" "$work/etl.py"
  (cd "$work" && env -i PATH="$1/bin:/usr/bin:/bin" HOME="$work" \
      "$1/bin/ferroflow" run etl.py --param n=1000 --no-progress)
  got=$(env -i PATH="$1/bin:/usr/bin:/bin" HOME="$work" "$1/bin/ferroflow" --version)
  [ "$got" = "ferroflow $version" ] || { echo "check-dist: --version says '$got'" >&2; exit 1; }
}

# The wheel in a fresh virtualenv, with ferroflow[notifiers] resolved from dist/ only.
python3 -m venv "$work/wheel-venv"
"$work/wheel-venv/bin/python" -m pip install --quiet "$wheel"
"$work/wheel-venv/bin/python" -m pip install --quiet --no-index --find-links "$dist" "ferroflow[notifiers]==$version"
run_flow "$work/wheel-venv"
plugins=$(env -i PATH="$work/wheel-venv/bin:/usr/bin:/bin" HOME="$work" "$work/wheel-venv/bin/ferroflow" plugins)
for p in webhook slack email; do
  grep -q "$p" <<<"$plugins" || { echo "check-dist: plugin $p missing from 'ferroflow plugins':" >&2; echo "$plugins" >&2; exit 1; }
done

# The sdist builds (maturin, cargo) and installs in a fresh virtualenv.
python3 -m venv "$work/sdist-venv"
"$work/sdist-venv/bin/python" -m pip install --quiet "$dist/ferroflow-$version.tar.gz"
run_flow "$work/sdist-venv"
echo "check-dist: OK ($(ls "$dist" | wc -l) files, $(basename "$wheel"))"
