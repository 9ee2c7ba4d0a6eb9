# The two commands a newcomer needs (README "Quick start"):
#   make demo   set everything up, then run the demo flow in examples/
#   make test   set everything up, then run every test (Rust and Python)
# Both start from a fresh machine with Python >= 3.10 and a Rust toolchain.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.ferroflow-installed

.PHONY: demo test test-rust test-python test-wheel dev services browser ui-screenshots bench dist dist-tools p3venv clean

demo: dev
	$(VENV)/bin/ferroflow run examples/etl.py --param n=100000

test: test-rust test-python test-wheel

dev: $(STAMP)

# Editable install of the package (builds the Rust extension in release mode) and
# every tool the tests and benches use; re-run when the build inputs change.
$(STAMP): pyproject.toml Cargo.toml rust/core/Cargo.toml rust/python/Cargo.toml $(wildcard rust/*/src/*.rs) $(wildcard plugins/*/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet $(foreach p,$(wildcard plugins/*/pyproject.toml),-e $(dir $(p)))
	touch $(STAMP)

test-rust:
	cargo test --workspace --exclude ferroflow-python

test-python: dev services browser
	$(PY) -m mypy.stubtest ferroflow._core
	$(PY) -m ruff check python tests plugins benches
	$(PY) -m mypy
	# Two test processes, each running whole files (most tests wait on servers and
	# subprocesses rather than compute): the suite takes about half as long.
	$(PY) -m pytest -n 2 --dist loadfile tests plugins

# The services the tests talk to: PostgreSQL at 127.0.0.1:5432 (the store and server
# tests run on it as well as on SQLite). A local cluster that is installed but stopped
# is started; when none answers, the suite itself stops and says so.
services:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then \
	    echo "starting the local PostgreSQL cluster"; \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
	  fi; \
	fi

# The browser the web UI's tests drive (Playwright with executable_path): Debian's
# chromium package, installed when /usr/bin/chromium is missing (as root, or through
# sudo). Playwright itself never downloads a browser here.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; \
	fi

# The web UI's screenshots in docs/ui.md, taken again by its browser tests.
ui-screenshots: dev browser
	$(PY) -m pytest -q -n 2 tests/ui
	for n in dashboard runs run children child logs deployment workers settings; do \
	  cp build/screenshots/$$n.png docs/images/ui-$$n.png; done

# A built wheel installs into a fresh virtualenv and runs an example there, with no
# Rust toolchain and no source tree on the path. It is built as a release builds it
# (maturin with zig, manylinux2014) and checked with auditwheel.
test-wheel: dev dist-tools
	bash .ci/check-wheel.sh

# Benchmarks (not part of `make test`): the side-by-side comparison and the
# pytest-benchmark suites; figures and how to read them are in benches/README.md.
bench: dev
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) benches/compare_mapped.py
	$(PY) -m pytest benches --benchmark-only -q
	cargo bench -p ferroflow-core

# Everything a release publishes, built into dist/ and checked (.ci/check-dist.sh):
# ferroflow's manylinux2014 x86_64 abi3 wheel (maturin with zig as the linker, so the
# wheel needs only glibc 2.17) and its sdist; the five plugins' wheels and sdists.
# The tools come from PyPI into the venv; no editable install is needed.
DIST_TOOLS := 'maturin[zig]>=1.7,<2' 'twine>=5' 'auditwheel>=6' 'build>=1.2'
DIST_STAMP := $(VENV)/.ferroflow-dist-tools

dist-tools: $(DIST_STAMP)

$(DIST_STAMP): Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(DIST_TOOLS)
	touch $(DIST_STAMP)

dist: dist-tools
	rm -rf dist
	PATH="$(abspath $(VENV))/bin:$$PATH" maturin build --release --zig --compatibility manylinux2014 --out dist
	PATH="$(abspath $(VENV))/bin:$$PATH" maturin sdist --out dist
	for p in plugins/*/; do $(PY) -m build --outdir dist $$p; done
	bash .ci/check-dist.sh dist

# Prefect 3 in a virtualenv of its own, for the eager-flow compatibility recording
# (tests/compat/eager/record_prefect3.py) and the side-by-side benchmark
# (benches/eager_flows.py); ferroflow's own tests only read the committed recording.
# FastAPI is held below 0.140: Prefect 3.8's temporary server fails to start with the
# newest releases (0.165: "Body() got an unexpected keyword argument 'min_items'").
P3VENV   ?= /work/p3venv
PREFECT3 := 'prefect>=3.8,<3.9' 'fastapi>=0.139,<0.140'

p3venv: $(P3VENV)/.prefect3-installed

$(P3VENV)/.prefect3-installed: Makefile
	test -x $(P3VENV)/bin/python || $(PYTHON) -m venv $(P3VENV)
	$(P3VENV)/bin/python -m pip install --quiet $(PREFECT3)
	touch $@

clean:
	rm -rf $(VENV) target dist
