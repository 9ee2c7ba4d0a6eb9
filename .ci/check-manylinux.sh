#!/usr/bin/env bash
# check-manylinux.sh WHEEL: auditwheel show says the wheel is manylinux2014
# (manylinux_2_17) or older, so pip installs it on any Linux with glibc 2.17 or newer,
# and it is an abi3 wheel for CPython 3.10 and later. Used by check-wheel.sh and
# check-dist.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
wheel=$1
shown=$("$root/.venv/bin/auditwheel" show "$wheel")
echo "$shown"
tr -d '\n' <<<"$shown" | grep -Eq 'consistent with the following platform tag: *"manylinux_2_(5|12|17)_x86_64"' \
  || { echo "check-manylinux: $wheel is not manylinux2014 or older" >&2; exit 1; }
case "$(basename "$wheel")" in
  *-cp310-abi3-*) ;;
  *) echo "check-manylinux: $wheel is not an abi3 (cp310) wheel" >&2; exit 1;;
esac
