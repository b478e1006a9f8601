# Two commands do everything on a fresh machine: `make bench` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stackmark-setup
PG_STAMP := $(VENV)/.stackmark-postgres
ARGS   ?=

.PHONY: setup bench test bench-harness calibrate clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	@touch $@

## run the default quick matrix under Locust and write summary.csv + the HTML report
bench: $(STAMP)
	$(BIN)/stackmark bench $(ARGS)

## the test suite (unit + integration with real servers and real Locust)
test: $(STAMP) $(PG_STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

# PostgreSQL server binaries for the database tests (they start their own throwaway cluster)
$(PG_STAMP): scripts/setup-postgres.sh | $(STAMP)
	bash scripts/setup-postgres.sh
	@touch $@

## the harness's own benchmark: Locust vs wrk ceiling, overhead per stack, CV of rps vs CPU per request
bench-harness: $(STAMP)
	bash scripts/setup-wrk.sh
	$(BIN)/python benchmarks/harness.py $(ARGS)

## the load generator's ceiling against a fast stack (and wrk's, if installed)
calibrate: $(STAMP)
	$(BIN)/stackmark calibrate $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
