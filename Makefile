# Two entry points: `make run` (default workflow) and `make test` (whole test suite).
# Both create or reuse .venv with the pins of requirements.txt; nothing else needs installing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
SNAKEMAKE := $(BIN)/snakemake
REPORT := results/report.html

.PHONY: run test report lint format clean-results

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

run: $(STAMP)
	$(SNAKEMAKE) --cores $(CORES) --profile profiles/default
	$(MAKE) --no-print-directory report

# The report is rebuilt only when a figure or table is newer than it.
report: $(STAMP)
	@if [ -f $(REPORT) ] && [ -z "$$(find results/figures results/tables -newer $(REPORT) -type f 2>/dev/null | head -n 1)" ]; then \
		echo "report up to date: $(REPORT)"; \
	else \
		$(SNAKEMAKE) --cores 1 --profile profiles/default --report $(REPORT) && echo "report: $(REPORT)"; \
	fi

test: $(STAMP)
	$(BIN)/python -m pytest -ra

lint: $(STAMP)
	$(SNAKEMAKE) --lint
	$(BIN)/snakefmt --check Snakefile rules/

format: $(STAMP)
	$(BIN)/snakefmt Snakefile rules/

clean-results:
	rm -rf results logs .snakemake/metadata
