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
# jupyter-config/ goes first in Jupyter's config path, for this command only (~/.jupyter is read,
# never written): its labconfig/page_config.json disables the plugin that asks "Would you like
# to get notified about official Jupyter news?" (@jupyterlab/apputils-extension:announcements).
lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,notebook]'
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
		$(BIN)/jupyter lab notebooks/ --allow-root --LabApp.news_url=None \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
		--LabApp.extension_manager=readonly

# bench_scale.py defaults to the issue's 1,000,000 records (a 7 GB archive, a quarter of an hour
# here); make bench runs it at SCALE_RECORDS: make bench SCALE_RECORDS=1000000 for the full size.
SCALE_RECORDS ?= 200000

bench: $(STAMP)
	@for script in $(filter-out benchmarks/bench_scale.py,$(wildcard benchmarks/bench_*.py)); do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done
	@echo "== benchmarks/bench_scale.py --records $(SCALE_RECORDS)"
	$(BIN)/python benchmarks/bench_scale.py --records $(SCALE_RECORDS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
