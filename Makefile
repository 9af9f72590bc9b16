# Everyday commands. `make sync` and `make test` work on a fresh clone: they create the
# virtualenv and install what they need first, each no more than that (pinned, with
# constraints.txt): a sync the SDK and DuckDB, the app its own packages, the tests the rest.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt
SYNC_DEPS := $(VENV)/.sync-installed
APP_DEPS := $(VENV)/.app-installed
DEV_DEPS := $(VENV)/.dev-installed
MUTATION_DEPS := $(VENV)/.mutation-installed
SQL ?=
# make benchmark-app: how many generated records FinMatch is timed on.
ROWS ?= 10000000
# Options passed on to tools/benchmark.py or tools/mutation.py, e.g. ARGS="--baseline HEAD~3" or ARGS=--resume.
ARGS ?=

# The local project folder (tools/stage.py): make sync writes its warehouse and state there.
LOCAL_PROJECT := build/connector
FINMATCH_WAREHOUSE ?= $(abspath $(LOCAL_PROJECT)/files/warehouse.db)

# Deployment: the API key only ever comes from the environment (FIVETRAN_API_KEY); see tools/deploy.py.
DESTINATION ?=
CONNECTION ?=
CONFIGURATION ?=

# FinMatch's deployment (make deploy-app): the Snowflake CLI, pinned in a virtualenv of its own, since it pins
# tools of its own (pip, setuptools, requests) that must not touch the project's. The connection is the CLI's
# own (~/.snowflake/config.toml or SNOWFLAKE_* variables); see tools/deploy_app.py.
SNOW_VENV := .venv-snow
SNOW_DEPS := $(SNOW_VENV)/.installed

# Property-based tests: `dev` (a quick sample) unless told otherwise; `thorough` in CI (tests/conftest.py).
HYPOTHESIS_PROFILE ?= dev
# pytest-xdist workers: one per core (PYTEST_WORKERS=0 runs the tests in this process, one by one).
PYTEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -n $(PYTEST_WORKERS)
PYTEST_ARGS ?=
# Tests left out of `make test-fast`: they start processes or a browser.
SLOW_TESTS := tests/test_crash_and_resume_in_a_real_process.py tests/test_stopping_a_sync.py \
	tests/test_secrets_never_leak.py tests/test_finmatch_in_a_browser.py tests/test_finmatch_deploy_definition.py

# The oldest and newest urllib3 that requests (as pinned by the SDK) accepts: requests 2.34.2
# requires urllib3>=1.26,<3. tools/urllib3_bounds.py checks these against the installed metadata.
URLLIB3_OLDEST := 1.26.0
URLLIB3_NEWEST := 2.8.0

.PHONY: help install sync sync-changes app api query test test-fast test-thorough test-under-load test-urllib3 test-app-sis check-urllib3-bounds lint format \
	mutation mutation-privacy mutation-finmatch benchmark benchmark-app package check-package configuration check-connection deploy snow-cli fakesnow deploy-app reset clean

help:
	@echo "make sync              start the local FPR API, sync it into $(LOCAL_PROJECT)/files/warehouse.db, show what landed"
	@echo "make sync-changes      the same with 5 records inserted and 10 updated: an incremental sync"
	@echo "make app               open FinMatch on the warehouse make sync wrote (http://127.0.0.1:8501)"
	@echo "make test              run the whole test suite"
	@echo "make test-fast         the quick loop: no separate processes, no browser, fewer generated cases"
	@echo "make test-thorough     the whole suite with many more generated cases (CI)"
	@echo "make test-under-load   the whole suite 5 times in a row with every core kept busy beside it (ARGS=\"--runs 3\")"
	@echo "make test-urllib3      the connector's tests against the oldest and newest urllib3 requests allows"
	@echo "make test-app-sis      FinMatch's tests on the Streamlit that Streamlit in Snowflake runs"
	@echo "make mutation          plant bugs in the safeguards, one at a time, and list those no test notices (ARGS=--resume)"
	@echo "make mutation-privacy  the same for masking and privacy alone (CI)"
	@echo "make mutation-finmatch the same for FinMatch's acceptance, thresholds and number formats alone"
	@echo "make lint              ruff check and format check"
	@echo "make format            apply ruff formatting and safe fixes"
	@echo "make benchmark         print speed and memory figures (ARGS=\"--baseline REF\": beside an earlier revision)"
	@echo "make benchmark-app     FinMatch's first load and each interaction on a generated warehouse (ROWS=$(ROWS))"
	@echo "make api               serve the local FPR API on http://127.0.0.1:8765 until Ctrl-C"
	@echo "make query             summarise the local warehouse (SQL=\"...\" to run your own query)"
	@echo "make configuration     write $(LOCAL_PROJECT)/configuration.json from the setup form, API key encrypted"
	@echo "make check-connection  run the setup form's connection test (CONFIGURATION=file, or the one above)"
	@echo "make package           build the deployment package and list what it holds"
	@echo "make check-package     build it beside planted secrets and check that none is inside"
	@echo "make deploy            deploy to Fivetran (FIVETRAN_API_KEY in the environment; DESTINATION, CONNECTION,"
	@echo "                       and CONFIGURATION only to set or replace the connection's settings)"
	@echo "make deploy-app        deploy FinMatch to Streamlit in Snowflake (app/snowflake.yml) with the Snowflake CLI's"
	@echo "                       connection; FINMATCH_QUERY_WAREHOUSE names the warehouse its queries run on"
	@echo "make snow-cli          install the pinned Snowflake CLI: $(SNOW_VENV)/bin/snow"
	@echo "make fakesnow          install fakesnow, an independent Snowflake emulator, in .venv-fakesnow"
	@echo "make reset             forget the local warehouse and state"
	@echo "make clean             remove the virtualenvs, build output and caches"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(SYNC_DEPS): requirements-sync.txt constraints.txt | $(PY)
	@echo "installing what a sync needs (requirements-sync.txt)"
	$(PIP) -r requirements-sync.txt
	@touch $@

$(APP_DEPS): app/requirements.txt constraints.txt | $(PY)
	@echo "installing FinMatch's packages (app/requirements.txt)"
	$(PIP) -r app/requirements.txt
	@touch $@

$(DEV_DEPS): requirements-dev.txt requirements-test.txt requirements-sync.txt app/requirements.txt constraints.txt | $(PY)
	@echo "installing the test and development tools (requirements-dev.txt)"
	$(PIP) -r requirements-dev.txt
	@touch $@ $(SYNC_DEPS) $(APP_DEPS)

$(MUTATION_DEPS): requirements-mutation.txt constraints.txt $(DEV_DEPS)
	@echo "installing the mutation tester (requirements-mutation.txt)"
	$(PIP) -r requirements-mutation.txt
	@touch $@

install: $(DEV_DEPS)

sync: $(SYNC_DEPS)
	$(PY) tools/local_sync.py

sync-changes: $(SYNC_DEPS)
	$(PY) tools/local_sync.py --insert 5 --update 10

app: $(APP_DEPS)
	@test -f "$(FINMATCH_WAREHOUSE)" || { echo "No $(FINMATCH_WAREHOUSE) yet: run 'make sync' first."; exit 2; }
	FINMATCH_WAREHOUSE="$(FINMATCH_WAREHOUSE)" $(BIN)/streamlit run app/streamlit_app.py \
		--server.address 127.0.0.1 --server.port 8501 --server.headless true --browser.gatherUsageStats false

api: $(SYNC_DEPS)
	$(PY) -m fpr_local_api

query: $(SYNC_DEPS)
	$(PY) tools/query.py $(if $(SQL),"$(SQL)")

test: $(DEV_DEPS)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(PYTEST) $(PYTEST_ARGS)

test-thorough: $(DEV_DEPS)
	HYPOTHESIS_PROFILE=thorough $(PYTEST) $(PYTEST_ARGS)

# A suite that passes only on a quiet machine gets ignored: this one is run with every core busy beside it.
test-under-load: $(DEV_DEPS)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(PY) tools/test_under_load.py $(ARGS)

test-fast: $(DEV_DEPS)
	HYPOTHESIS_PROFILE=quick $(PYTEST) -q --ff $(addprefix --ignore=,$(SLOW_TESTS)) $(PYTEST_ARGS)

# Each urllib3 version gets a virtualenv of its own with the pinned SDK and the connector's test tools.
test-urllib3: check-urllib3-bounds test-urllib3-$(URLLIB3_OLDEST) test-urllib3-$(URLLIB3_NEWEST)

check-urllib3-bounds: $(SYNC_DEPS)
	$(PY) tools/urllib3_bounds.py $(URLLIB3_OLDEST) $(URLLIB3_NEWEST)

.PRECIOUS: .venv-urllib3-%/.installed
.venv-urllib3-%/.installed: requirements-test.txt requirements-sync.txt constraints.txt
	rm -rf .venv-urllib3-$*
	$(PYTHON) -m venv .venv-urllib3-$*
	grep -v '^urllib3==' constraints.txt > .venv-urllib3-$*/constraints.txt
	.venv-urllib3-$*/bin/python -m pip install --quiet --disable-pip-version-check \
		-r requirements-test.txt urllib3==$* -c .venv-urllib3-$*/constraints.txt
	@touch $@

test-urllib3-%: .venv-urllib3-%/.installed
	.venv-urllib3-$*/bin/python -c "import requests, urllib3; print('urllib3', urllib3.__version__, 'with requests', requests.__version__)"
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) .venv-urllib3-$*/bin/python -m pytest -n $(PYTEST_WORKERS) \
		-p no:cacheprovider --ignore-glob='tests/test_finmatch_*' $(PYTEST_ARGS)

# FinMatch's tests again on the Streamlit, altair and pandas that Streamlit in Snowflake runs
# (app/environment.yml), in a virtualenv of their own (.venv-sis, app/requirements-sis.txt).
.venv-sis/.installed: app/requirements-sis.txt app/constraints-sis.txt
	rm -rf .venv-sis
	$(PYTHON) -m venv .venv-sis
	.venv-sis/bin/python -m pip install --quiet --disable-pip-version-check -r app/requirements-sis.txt \
		-c app/constraints-sis.txt
	@touch $@

test-app-sis: .venv-sis/.installed
	FINMATCH_SIS_PINS=1 .venv-sis/bin/python -m pytest -p no:cacheprovider $(wildcard tests/test_finmatch_*.py)

# A planted bug in each safeguard must make a test fail (tools/mutation.py); mutation-privacy: masking and privacy alone;
# mutation-finmatch: FinMatch's figures alone.
mutation: $(MUTATION_DEPS)
	$(PY) tools/mutation.py $(ARGS)

mutation-privacy: $(MUTATION_DEPS)
	$(PY) tools/mutation.py --scope privacy

mutation-finmatch: $(MUTATION_DEPS)
	$(PY) tools/mutation.py --scope finmatch

lint: $(DEV_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_DEPS)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

benchmark: $(DEV_DEPS)
	$(PY) tools/benchmark.py $(ARGS)

benchmark-app: $(DEV_DEPS)
	$(PY) tools/benchmark_app.py --rows $(ROWS)

package: $(SYNC_DEPS)
	$(PY) tools/package.py

check-package: $(SYNC_DEPS)
	$(PY) tools/package.py --check

configuration: $(SYNC_DEPS)
	@$(PY) tools/stage.py >/dev/null
	$(BIN)/fivetran configuration $(LOCAL_PROJECT)

check-connection: $(SYNC_DEPS)
	@$(PY) tools/check_connection.py $(if $(CONFIGURATION),"$(CONFIGURATION)")

# Recipes are not echoed, and none of them names the key: tools/deploy.py reads it from the environment.
deploy: $(SYNC_DEPS)
	@$(PY) tools/deploy.py $(if $(DESTINATION),--destination "$(DESTINATION)") \
		$(if $(CONNECTION),--connection "$(CONNECTION)") $(if $(CONFIGURATION),--configuration "$(CONFIGURATION)")

# The Snowflake CLI (app/requirements-deploy.txt, every package pinned in app/constraints-deploy.txt).
$(SNOW_DEPS): app/requirements-deploy.txt app/constraints-deploy.txt
	@echo "installing the Snowflake CLI in $(SNOW_VENV) (app/requirements-deploy.txt)"
	rm -rf $(SNOW_VENV)
	$(PYTHON) -m venv $(SNOW_VENV)
	$(SNOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r app/requirements-deploy.txt \
		-c app/constraints-deploy.txt
	@touch $@

snow-cli: $(SNOW_DEPS)

# fakesnow, an independent Snowflake emulator, pinned apart (requirements-fakesnow.txt says why); the tests that use it
# (tests/test_finmatch_on_fakesnow.py) skip without it, except in CI.
FAKESNOW_DEPS := .venv-fakesnow/.installed
$(FAKESNOW_DEPS): requirements-fakesnow.txt constraints-fakesnow.txt
	rm -rf .venv-fakesnow
	$(PYTHON) -m venv .venv-fakesnow
	.venv-fakesnow/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-fakesnow.txt \
		-c constraints-fakesnow.txt
	@touch $@

fakesnow: $(FAKESNOW_DEPS)

# Not echoed: tools/deploy_app.py prints what it runs; the CLI reads the connection and its secrets itself.
deploy-app: $(SNOW_DEPS)
	@$(SNOW_VENV)/bin/python tools/deploy_app.py

reset:
	rm -rf $(LOCAL_PROJECT)/files $(LOCAL_PROJECT)/crash-reports files crash-reports

clean: reset
	rm -rf $(VENV) .venv-urllib3-* .venv-sis $(SNOW_VENV) .venv-fakesnow app/output build .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
