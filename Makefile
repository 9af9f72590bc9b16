# Everyday commands. `make sync` and `make test` work on a fresh clone: they create
# the virtualenv and install the pinned development requirements first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
INSTALLED := $(VENV)/.installed
SQL ?=

# Deployment settings, e.g. make deploy FIVETRAN_API_KEY=... DESTINATION=... CONNECTION=...
FIVETRAN_API_KEY ?=
DESTINATION ?=
CONNECTION ?=
CONFIGURATION ?= configuration.json

.PHONY: help install sync sync-changes app api query test lint format benchmark package deploy reset clean

help:
	@echo "make sync          start the local FPR API, sync it into files/warehouse.db, show what landed"
	@echo "make sync-changes  the same with 5 records inserted and 10 updated: an incremental sync"
	@echo "make app           open FinMatch on the warehouse make sync wrote (http://127.0.0.1:8501)"
	@echo "make test          run the test suite"
	@echo "make lint          ruff check and format check"
	@echo "make format        apply ruff formatting and safe fixes"
	@echo "make benchmark     print speed and memory figures"
	@echo "make api           serve the local FPR API on http://127.0.0.1:8765 until Ctrl-C"
	@echo "make query         summarise files/warehouse.db (SQL=\"...\" to run your own query)"
	@echo "make package       build the deployment package from build/connector"
	@echo "make deploy        deploy to Fivetran (FIVETRAN_API_KEY, DESTINATION, CONNECTION, CONFIGURATION)"
	@echo "make reset         forget the local warehouse and state (files/)"
	@echo "make clean         remove the virtualenv, build output and caches"

$(INSTALLED): requirements-dev.txt app/requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(INSTALLED)

sync: $(INSTALLED)
	PATH="$(abspath $(BIN)):$$PATH" $(PY) tools/local_sync.py

sync-changes: $(INSTALLED)
	PATH="$(abspath $(BIN)):$$PATH" $(PY) tools/local_sync.py --insert 5 --update 10

app: $(INSTALLED)
	@test -f files/warehouse.db || { echo "No files/warehouse.db yet: run 'make sync' first."; exit 2; }
	$(BIN)/streamlit run app/streamlit_app.py --server.address 127.0.0.1 --server.port 8501 \
		--server.headless true --browser.gatherUsageStats false

api: $(INSTALLED)
	$(PY) -m fpr_local_api

query: $(INSTALLED)
	$(PY) tools/query.py $(if $(SQL),"$(SQL)")

test: $(INSTALLED)
	$(PY) -m pytest

# FinMatch's tests again on the Streamlit, altair and pandas that Streamlit in Snowflake runs
# (app/environment.yml), in a virtualenv of their own (.venv-sis, app/requirements-sis.txt).
.PHONY: test-app-sis
test-app-sis:
	@test .venv-sis/.installed -nt app/requirements-sis.txt -a .venv-sis/.installed -nt app/constraints-sis.txt || { \
		$(PYTHON) -m venv .venv-sis && \
		.venv-sis/bin/pip install --quiet --disable-pip-version-check -r app/requirements-sis.txt \
			-c app/constraints-sis.txt && touch .venv-sis/.installed; }
	FINMATCH_SIS_PINS=1 .venv-sis/bin/python -m pytest -p no:cacheprovider $(wildcard tests/test_finmatch_*.py)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

benchmark: $(INSTALLED)
	$(PY) tools/benchmark.py

package: $(INSTALLED)
	$(PY) tools/stage.py
	cd build/connector && PATH="$(abspath $(BIN)):$$PATH" fivetran package .

deploy: $(INSTALLED)
	$(PY) tools/stage.py
	@test -n "$(FIVETRAN_API_KEY)" -a -n "$(DESTINATION)" -a -n "$(CONNECTION)" || \
		{ echo "set FIVETRAN_API_KEY, DESTINATION and CONNECTION (and CONFIGURATION, default configuration.json)"; exit 2; }
	cd build/connector && PATH="$(abspath $(BIN)):$$PATH" fivetran deploy \
		--api-key "$(FIVETRAN_API_KEY)" --destination "$(DESTINATION)" --connection "$(CONNECTION)" \
		--configuration "$(abspath $(CONFIGURATION))"

reset:
	rm -rf files crash-reports build/connector/crash-reports

clean: reset
	rm -rf $(VENV) build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
