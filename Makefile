# The two commands of the README, each doing its own set-up on a fresh machine.
#   make report   the main job: the property suite (report profile, all cores), its report
#                 folder (reports/runs/latest) and the comparison with reports/baseline.json
#   make test     the tests (deterministic CI profile)
# Other targets: make baseline (the one way to update reports/baseline.json, from the latest
# report; ACCEPT_FAILURES=1 records failing tests as known), make bench (benchmarks, own
# job), make stress (the stress profile, database kept in .hypothesis/), make mutation
# (mutmut over the core math, writes reports/mutation.md), make lint.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test report baseline stress mutation bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --invariants-profile ci

report: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile --invariants-profile report \
		--invariants-report reports/runs/latest --invariants-baseline reports/baseline.json

baseline: $(STAMP)
	$(BIN)/python -m invariants.baseline update reports/runs/latest/report.json \
		reports/baseline.json --profile report $(if $(ACCEPT_FAILURES),--accept-failures)

stress: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile --invariants-profile stress \
		--invariants-report reports/runs/stress

mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutation]'
	$(BIN)/python tools/mutation.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_flow
	$(BIN)/python -m benchmarks.bench_gd
	$(BIN)/python -m benchmarks.bench_direction

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) reports/runs .hypothesis .pytest_cache
