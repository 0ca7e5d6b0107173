# domainpriv: `make run` and `make test` are the two commands a newcomer needs (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck unit bench lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint requirements.lock --editable '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: install, create or migrate the database, load the demo data, show it, then serve WHOIS and RDAP
run: install
	$(BIN)/domainpriv db upgrade
	$(BIN)/domainpriv demo load
	$(BIN)/domainpriv demo summary
	$(BIN)/domainpriv serve

## test: install, then lint, type-check and run the whole suite (SQLite and PostgreSQL) in PYTEST_WORKERS processes
## (more than the 2 cores: most of the suite waits on servers, subprocesses and PostgreSQL, not on the CPU)
PYTEST_WORKERS ?= 4
test: install lint typecheck
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

lint: install
	$(BIN)/ruff check domainpriv tests bench
	$(BIN)/ruff format --check domainpriv tests bench

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest tests/unit tests/property

## bench: the benchmarks of bench/: bulk import (1,000,000 domains), WHOIS/RDAP load, the read path at scale, escrow
## (about 45 minutes; the first run also loads 100k, 1M and 10M domains for bench_scale: about an hour more)
bench: install
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_rdds.py
	nice -n 10 $(BIN)/python bench/load_scale.py --sizes 100k 1m 10m
	$(BIN)/python bench/bench_scale.py --rounds 3 --duration 10
	$(BIN)/python bench/bench_portal.py --rounds 3 --duration 10
	$(BIN)/python bench/bench_sweep.py --rounds 3
	$(BIN)/python bench/bench_escrow.py --sizes 100k 1m --rounds 2

## lock: re-resolve the dependencies into requirements.lock
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet --editable '.[test]'
	{ echo '# Exact versions for reproducible installs: `make lock` regenerates it (pip install -c requirements.lock).'; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^domainpriv'; } > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
