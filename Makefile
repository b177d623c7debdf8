# Entry points: the three run sizes `make run` (quick look, config.yaml), `make reproduce` (the
# decisive tier, config/reduced.yaml, in $(REPRODUCE_DIR)) and `make paper` (config/paper.yaml on a
# cluster or GPUs, in $(PAPER_DIR)); `make test` (whole test suite). Each creates or reuses .venv
# with the pins of requirements.txt. `make reproduce -n` and `make paper -n` plan the run
# (snakemake --dry-run) without running a job. `make rulegraph` redraws docs/rulegraph.svg.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
SNAKEMAKE := $(BIN)/snakemake
REPORT := results/report.html
REPRODUCE_DIR ?= runs/reduced
PAPER_DIR ?= runs/paper
PAPER_PROFILE ?= profiles/slurm
# `make -n TARGET` prints the commands without running them; the lines marked `+` below still
# run, with snakemake's own --dry-run, so that `make reproduce -n` shows the jobs it would run.
DRY_RUN := $(if $(findstring n,$(firstword -$(MAKEFLAGS))),--dry-run)

.PHONY: run reproduce paper test report lint format clean-results rulegraph claims-docs config-docs docs

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

run: $(STAMP)
	$(SNAKEMAKE) --cores $(CORES) --profile profiles/default
	$(MAKE) --no-print-directory report

# The decisive tier: every study section of config/reduced.yaml (rule all runs the studies the
# config has), in its own directory so that it never mixes with the quick look's results/.
reproduce: $(STAMP)
	+$(SNAKEMAKE) --cores $(CORES) --profile profiles/default --configfile config/reduced.yaml \
		--directory $(REPRODUCE_DIR) $(DRY_RUN) all
	$(SNAKEMAKE) --cores 1 --profile profiles/default --configfile config/reduced.yaml \
		--directory $(REPRODUCE_DIR) --report $(abspath $(REPRODUCE_DIR))/results/report.html
	@echo "claims: $(REPRODUCE_DIR)/results/tables/claims.csv; report: $(REPRODUCE_DIR)/results/report.html"

# The paper scale: meant for a cluster (PAPER_PROFILE=profiles/slurm, edited for the site: see
# docs/hpc.md) or a machine with GPUs (PAPER_PROFILE=profiles/gpu).
paper: $(STAMP)
	+$(SNAKEMAKE) --profile $(PAPER_PROFILE) --configfile config/paper.yaml \
		--directory $(PAPER_DIR) $(DRY_RUN) all

# The rule graph of every rule (config/paper.yaml has all four studies and the downloads), drawn
# by Graphviz's dot (Debian: apt-get install graphviz).
rulegraph: $(STAMP)
	@command -v dot >/dev/null || { echo "make rulegraph needs Graphviz's dot (Debian: apt-get install graphviz)"; exit 1; }
	@# the external rules need a network of one's own: an imported file, planned and never read
	rm -rf docs/rulegraph.work && mkdir -p docs/rulegraph.work && touch docs/rulegraph.work/yours.npz
	echo 'external: {networks: {yours: {activations: yours.npz}}}' > docs/rulegraph.work/external.yaml
	$(SNAKEMAKE) all information_plane relevance isometry coding external --rulegraph \
		--directory docs/rulegraph.work --configfile $(CURDIR)/config/paper.yaml \
		$(CURDIR)/docs/rulegraph.work/external.yaml > docs/rulegraph.dot.tmp
	rm -rf docs/rulegraph.work
	dot -Tsvg docs/rulegraph.dot.tmp > docs/rulegraph.svg.tmp
	mv docs/rulegraph.svg.tmp docs/rulegraph.svg
	rm docs/rulegraph.dot.tmp

# The generated claims blocks of README.md and docs/claims.md, from the stored CSVs they name.
claims-docs: $(STAMP)
	$(BIN)/python -m layerinfo.claims --update README.md docs/claims.md

# The key tables of config/README.md, from schemas/config.schema.yaml.
config-docs: $(STAMP)
	$(BIN)/python -m layerinfo.workflow.schemadoc --update config/README.md

# Everything generated in the documentation.
docs: rulegraph claims-docs config-docs

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
