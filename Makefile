# The two commands of the README, each doing its own set-up on a fresh machine.
#   make report   the main job: the property suite (report profile, all cores), its report
#                 folder (reports/runs/latest) and the comparison with reports/baseline.json
#   make test     the tests (deterministic CI profile); JUnit XML in reports/runs/ci/junit.xml
# Every target's venv has the extras test, dev and certify (python-flint: the certified
# verdicts of docs/certified.md, checked by make test and shown by make report).
# Other targets: make baseline (the one way to update reports/baseline.json, from the latest
# report; ACCEPT_FAILURES=1 records failing tests as known), make bench (benchmarks, own
# job; installs the fuzz extra for bench_fuzz), make stress (the stress profile, database
# kept in .hypothesis/), make mutation
# (mutmut over the core math, writes reports/mutation.md), make mutation-sampled (a seeded
# sample of mutants per package over the rest of the library and properties/ji_telgarsky_2019/claims, one
# core, ~40 min; the per-package section of reports/mutation.md), make fuzz (HypoFuzz for
# FUZZ_SECONDS on all cores, dashboard on localhost:FUZZ_PORT, then a replay report in
# reports/runs/fuzz; INVARIANTS_DATABASE=redis://host:port/db, a directory, or `redis` for a
# local server), make lint.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test report baseline stress fuzz mutation mutation-sampled bench lint clean

FUZZ_SECONDS ?= 180
FUZZ_PORT    ?= 9999
FUZZ_STAMP   := $(VENV)/.fuzz-stamp

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,certify]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal --invariants-profile ci \
		--junit-xml=reports/runs/ci/junit.xml

# The report draws its dependency graph with Graphviz's dot: installed here when missing and
# possible (as root), else the report says the graph is missing and how to get it.
report: $(STAMP)
	@command -v dot >/dev/null 2>&1 || apt-get install -y -qq graphviz >/dev/null 2>&1 \
		|| echo "make report: no Graphviz dot (apt-get install graphviz); the graph is skipped" >&2
	$(BIN)/python -m pytest -n auto --dist worksteal --invariants-profile report \
		--invariants-report reports/runs/latest --invariants-baseline reports/baseline.json \
		--junit-xml=reports/runs/latest/junit.xml

baseline: $(STAMP)
	$(BIN)/python -m invariants.report baseline reports/runs/latest/report.json \
		reports/baseline.json --profile report $(if $(ACCEPT_FAILURES),--accept-failures)

stress: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile --invariants-profile stress \
		--invariants-report reports/runs/stress

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	touch $(FUZZ_STAMP)

# INVARIANTS_DATABASE reaches tools/fuzz.py through the environment (make exports a
# command-line variable), not as --database: make echoes the command, and a password in
# the URL would be printed.
fuzz: $(FUZZ_STAMP)
	$(BIN)/python tools/fuzz.py --seconds $(FUZZ_SECONDS) --port $(FUZZ_PORT) \
		$(if $(FUZZ_WORKERS),--workers $(FUZZ_WORKERS))

mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutation]'
	$(BIN)/python tools/mutation.py

mutation-sampled: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutation]'
	$(BIN)/python tools/mutation.py --sample 16 --seed 1 --budget-minutes 36 --max-children 1

# bench_fuzz needs HypoFuzz (the fuzz extra).
bench: $(FUZZ_STAMP)
	$(BIN)/python -m benchmarks.bench_flow
	$(BIN)/python -m benchmarks.bench_gd
	$(BIN)/python -m benchmarks.bench_direction
	$(BIN)/python -m benchmarks.bench_certify
	$(BIN)/python -m benchmarks.bench_fuzz

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) reports/runs .hypothesis .pytest_cache
