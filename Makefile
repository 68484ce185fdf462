# Two commands do all the set-up: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench lab clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "igresearch needs Python 3.11 or newer: set PYTHON=python3.11 (or newer).")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/igresearch demo

lint: $(STAMP)
	$(BIN)/ruff check igresearch tests benchmarks scripts
	$(BIN)/ruff format --check igresearch tests benchmarks scripts
	$(BIN)/mypy igresearch

test: lint
	$(BIN)/python -m pytest

# For development: the suite without the tests marked slow (kernels, wheels, killed subprocesses).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# --allow-root: containers often run as root. No news feed, update check or extension index.
lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,notebook]'
	$(BIN)/jupyter lab notebooks/ --allow-root --LabApp.news_url=None \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
		--LabApp.extension_manager=readonly

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
