# Two commands do everything on a fresh machine: `make bench` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stackmark-setup
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
test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

## the harness's own benchmark: Locust vs wrk ceiling, overhead per stack, CV of rps vs CPU per request
bench-harness: $(STAMP)
	bash scripts/setup-wrk.sh
	$(BIN)/python benchmarks/harness.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
