# The two commands of the README: `make demo` and `make test` (each sets up .venv first).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup dagster-dev price-book clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/tokenpnl demo

test: $(STAMP)
	$(BIN)/python -m pytest --durations=30

# The Dagster UI and scheduler on this checkout (`dagster.yaml` is read from DAGSTER_HOME).
dagster-dev: $(STAMP)
	mkdir -p .dagster_home && cp dagster.yaml .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dagster dev -m pipelines.definitions

# Rebuild the default price book from genai-prices' bundled data (offline).
price-book: $(STAMP)
	$(BIN)/python models/build_default_price_book.py

clean:
	rm -rf $(VENV) warehouse demo .dagster_home dbt_project/target dbt_project/logs
