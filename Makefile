# Two commands for a newcomer: `make demo` (kiosk + sandbox) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test system-deps catalog bench mutate clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kiosk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.demo-installed

# axe-core, for the accessibility tests: the browser loads it into each page under test.
AXE_VERSION := 4.14.1
AXE := $(VENV)/axe-core-$(AXE_VERSION)/axe.min.js
$(AXE): | $(BIN)/python
	@scripts/fetch-axe $(AXE_VERSION) $(AXE)

# HOST=0.0.0.0 lets the shop's tablets and phones reach the demo over the local network.
HOST ?= 127.0.0.1
# PRINTER=tcp://192.168.1.50:9100 prints a receipt of every paid payment on that network printer.
PRINTER ?=
demo: $(VENV)/.demo-installed
	$(BIN)/kiosk demo --host $(HOST)$(if $(PRINTER), --printer $(PRINTER))

system-deps:
	@scripts/system-deps

# Two workers, a test file each at a time (its module's servers are started once): most tests wait
# on sockets, browsers and processes, so the suite takes about half its serial time on two cores.
WORKERS ?= 2
test: $(VENV)/.test-installed system-deps $(AXE)
	$(BIN)/ruff check kiosk tests
	$(BIN)/lint-imports
	$(BIN)/mypy kiosk
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance test-output dist build mutants mutants-work

# After changing user-visible text: refresh the Turkish catalog, then translate the new entries.
# The customer's languages beyond Turkish (English is the source): see babel-customer.cfg.
CUSTOMER_LANGUAGES = de ru ar

catalog: $(VENV)/.test-installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k Nn_:1,2 --no-location -o $(VENV)/messages.pot .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d kiosk/translations -l tr --width 100 --ignore-obsolete
	$(BIN)/pybabel extract -F babel-customer.cfg -k N_ -k Nn_:1,2 --no-location -o $(VENV)/customer.pot .
	for lang in $(CUSTOMER_LANGUAGES); do \
	  $(BIN)/pybabel update -i $(VENV)/customer.pot -d kiosk/translations -l $$lang --width 100 --ignore-obsolete; \
	done

# Benchmarks (not part of the tests): prints a table and writes bench/RESULTS.md.
# ARGS=--quick for a smoke run, ARGS=--soak for the long soak as well.
bench: $(VENV)/.test-installed system-deps
	$(BIN)/python bench/run.py $(ARGS)

# Mutation testing, set by set (scripts/mutate.py; not part of `make test`: slow). SETS="ledger"
# for some: the sets are in pyproject.toml.
# The last line reads "killed K of N"; docs/testing.md explains the survivors left.
mutate: $(VENV)/.test-installed
	@scripts/mutate $(SETS)
