# albench — run `make help` for the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUITE  ?= quick
EXECUTOR ?= local
DATA_ROOT ?= $(or $(ALBENCH_DATA),$(wildcard ../shared/data))
DATA_ARG = $(if $(DATA_ROOT),--data-root $(DATA_ROOT),)
STOP_AFTER ?=
STOP_ARG = $(if $(STOP_AFTER),--stop-after $(STOP_AFTER),)
ARCHIVE ?= results/archive/$(SUITE).tar.gz
PYTEST_FAST := -m "not slow and not gpu and not slurm and not browser"
# CPU numerics that do not depend on the CPU's instruction set (ATen's scalar kernels, oneDNN capped at
# SSE4.1, MKL's compatible code path): the committed CPU reports and `make demo` regenerate byte for byte on
# any x86-64 machine; a plain `albench run` uses the CPU's fastest kernels, which differ in the last bits.
PORTABLE_NUMERICS := ATEN_CPU_CAPABILITY=default DNNL_MAX_CPU_ISA=SSE41 MKL_CBWR=COMPATIBLE

.DEFAULT_GOAL := help
.PHONY: help install demo test test-all smoke lint test-browser test-gpu reports-check reports-render-check bench-sweep gpu-data tune slurm-up test-slurm run status leaderboard compare compare-all profile bench mnist-short table-fk-mnist table-wacv table-wacv-offline datasets-stats store-export store-import clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'
	@echo "  variables: SUITE=$(SUITE) EXECUTOR=$(EXECUTOR) DATA_ROOT=$(DATA_ROOT)"

install: $(STAMP) ## create .venv and install albench with its dev extras
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing albench and its dependencies into $(VENV) (torch is large: a few minutes the first time)"
	$(BIN)/python -m pip install --progress-bar on -e '.[dev,tune]'
	@touch $(STAMP)

DEMO_REPORTS ?= results/reports
demo: install ## run the quick suite on the embedded digits data and print the leaderboard (reports into results/reports/quick/, git-ignored)
	env $(PORTABLE_NUMERICS) $(BIN)/albench run quick --executor $(EXECUTOR)
	$(BIN)/albench leaderboard quick --reports $(DEMO_REPORTS)

test: install ## run the tests (not slow / gpu / slurm)
	$(BIN)/python -m pytest $(PYTEST_FAST) -q

lint: install ## ruff (style, imports, bugbear) and mypy (strict on benchmark/core)
	$(BIN)/ruff check .
	$(BIN)/mypy

BROWSER_STAMP := $(VENV)/.browser
$(BROWSER_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,tune,browser]'
	@touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP) ## the HTML reports in headless Chromium (installs the browser extra, and Debian's chromium when missing and root); fails rather than skips
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$$ALBENCH_CHROMIUM" ] || \
	  { [ "$$(id -u)" = 0 ] && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || \
	    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; }; } || \
	  { echo "make test-browser: no Chromium. As root: apt-get install chromium; else set ALBENCH_CHROMIUM=/path/to/chromium"; exit 1; }
	ALBENCH_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -m browser -q -rs

test-gpu: install ## the GPU lane: tests marked gpu (method contract, end-to-end cells, determinism on CUDA); skip without CUDA
	$(BIN)/python -m pytest -m gpu -q -rs

test-all: install ## run every test, slow ones included (data tests need MNIST under DATA_ROOT or $ALBENCH_DATA; skipped without)
	$(BIN)/python -m pytest -q -m "not gpu and not slurm"

smoke: install ## end-to-end smoke test only
	$(BIN)/python -m pytest -q tests/test_end_to_end.py

run: install ## run SUITE's pending cells (SUITE=quick EXECUTOR=local DATA_ROOT=... STOP_AFTER=8m: a time box)
	$(BIN)/albench run $(SUITE) --executor $(EXECUTOR) $(DATA_ARG) $(STOP_ARG)

store-export: install ## SUITE's finished cells and round checkpoints → ARCHIVE (default results/archive/SUITE.tar.gz)
	$(BIN)/albench store export $(SUITE) $(ARCHIVE)

store-import: install ## merge ARCHIVE into results/ (verified first; never overwrites a different cell)
	$(BIN)/albench store import $(ARCHIVE)

status: install ## done / failed / pending cells of SUITE
	$(BIN)/albench status $(SUITE)

leaderboard: install ## consolidate SUITE and write reports/SUITE/ (md, csv, png, html/)
	$(BIN)/albench leaderboard $(SUITE)

SUITES ?= $(SUITE)
COMPARE_NAME ?= $(SUITES)
compare: install ## statistics across the settings of SUITES (penalty matrix, CD diagram, label efficiency, seeds advice) → reports/compare/COMPARE_NAME/
	$(BIN)/albench compare $(SUITES) --name $(subst $(eval) ,+,$(COMPARE_NAME))

profile: install ## where each cell's time, passes and memory go, per phase and method → reports/SUITE/profile.md
	$(BIN)/albench profile $(SUITE)

COMPARE_ALL := quick mnist-short coldstart-mnist fk-mnist-early fk-mnist-cpu fk-mnist-cpu-recent fk-mnist-100-fk fk-mnist-100-ensvaal fk-mnist-1-fk
COMPARE_STORE := build/compare-all
compare-all: install ## albench compare over every committed iterative suite → reports/compare/all/, from the committed cells only (results/archive/ imported into a fresh build/compare-all/; suites without cells are listed as skipped)
	rm -rf $(COMPARE_STORE)
	$(foreach a,$(wildcard results/archive/*.tar.gz),$(BIN)/albench store import $(a) --results $(COMPARE_STORE) &&) true
	$(BIN)/albench compare $(COMPARE_ALL) --name all --results $(COMPARE_STORE)

REPORTS_CHECK ?= quick wacv-offline mnist-short fk-mnist-early
reports-check: install ## regenerate the CPU-sized committed reports (REPORTS_CHECK=...) in a temp folder and diff them byte for byte
	env $(PORTABLE_NUMERICS) $(BIN)/python -m tools.reports_check $(REPORTS_CHECK) $(DATA_ARG)

COMMITTED_SUITES := $(sort $(filter-out compare,$(patsubst reports/%/,%,$(wildcard reports/*/))))
reports-render-check: install ## render every committed report (and reports/compare/*) from its committed cells in results/archive/ and diff byte for byte; nothing recomputed
	$(BIN)/python -m tools.reports_check --from-archive results/archive $(COMMITTED_SUITES)

BENCH_SWEEP_ARGS ?=
bench-sweep: install ## throughput of an fk-mnist slice (every method row, seed 0, all rounds) → reports/bench-sweep.json; GPU sized (add BENCH_SWEEP_ARGS="--rounds 1" on a CPU)
	$(BIN)/python -m tools.bench_sweep $(DATA_ARG) $(BENCH_SWEEP_ARGS)

gpu-data: ## copy MNIST from DATA_ROOT into .data/ (git-ignored) for the device tool's carry (scripts/gpu_check.sh)
	mkdir -p .data/MNIST/raw && cp $(DATA_ROOT)/MNIST/raw/*.gz .data/MNIST/raw/  # DATA_ROOT must hold MNIST/raw

TUNE_METHOD ?= mc_entropy
TUNE_TRIALS ?= 20
tune: install ## optuna study of TUNE_METHOD on SUITE's validation split (TUNE_TRIALS trials; resumes) → results/tune/
	$(BIN)/albench tune $(SUITE) --method $(TUNE_METHOD) --trials $(TUNE_TRIALS) $(DATA_ARG)

slurm-up: ## install Debian's slurm-wlm + munge and start a one-node Slurm cluster on this host (root; idempotent)
	bash scripts/slurm_up.sh

test-slurm: install ## the Slurm tests (submit, scancel mid-cell and resume, USR2 preemption requeues and resumes, nothing stored twice); skip without a cluster
	$(BIN)/python -m pip install -q 'submitit>=1.5'
	$(BIN)/python -m pytest -m slurm -q -rs tests/test_slurm.py

bench: install ## speed and memory benchmarks (pytest-benchmark)
	$(BIN)/python -m pytest benchmarks -q --benchmark-enable --benchmark-only -s

mnist-short: install ## the short real-MNIST suite (step 100, LeNet) from DATA_ROOT
	$(BIN)/albench run mnist-short --executor $(EXECUTOR) $(DATA_ARG)
	$(BIN)/albench leaderboard mnist-short

FK_SUITE ?= fk-mnist
FK_ARCHIVE ?= results/archive/fk-mnist.tar.gz
# the GPU-run cells and every committed fk-mnist* archive (the order does not matter): the CPU suites' cells are
# fk-mnist's own wherever rows and seeds overlap, and an import never overwrites a different cell
FK_ARCHIVES = $(sort $(wildcard $(FK_ARCHIVE) $(FK_ARCHIVE:.tar.gz=.part*.tar.gz) results/archive/fk-mnist*.tar.gz))
table-fk-mnist: install ## CVPR 2020 Fig. 4/6 on MNIST: import FK_ARCHIVE (the GPU-run cells) and every committed fk-mnist* archive, run FK_SUITE's other cells (fk-mnist: full, GPU; fk-mnist-cpu: reduced; fk-mnist-early: 3-round check; STOP_AFTER=1s renders what is there) and write reports/FK_SUITE/
	$(if $(FK_ARCHIVES),$(BIN)/albench store import $(FK_ARCHIVES))
	$(BIN)/albench run $(FK_SUITE) --executor $(EXECUTOR) $(DATA_ARG) $(STOP_ARG)
	$(BIN)/albench curves $(FK_SUITE) $(DATA_ARG)
	$(BIN)/albench leaderboard $(FK_SUITE)
	$(BIN)/albench profile $(FK_SUITE)

table-wacv: install ## WACV 2020 Tables 2-5 on Food-101/CIFAR-100/IMN-100/MIT-67 (the datasets present under DATA_ROOT)
	$(BIN)/albench run wacv --executor $(EXECUTOR) $(DATA_ARG) --skip-missing-data
	$(BIN)/albench tables wacv $(DATA_ARG)

table-wacv-offline: install ## the WACV protocol on digits + MNIST with a harness-trained source (CPU, minutes)
	$(BIN)/albench run wacv-offline --executor $(EXECUTOR) $(DATA_ARG) --skip-missing-data
	$(BIN)/albench tables wacv-offline $(DATA_ARG)

DATASET ?= digits
IMBALANCE ?= none
datasets-stats: install ## WACV Table 1 row for DATASET under IMBALANCE (e.g. DATASET=cifar100 IMBALANCE=target_ir)
	$(BIN)/albench datasets stats $(DATASET) --imbalance $(IMBALANCE) $(DATA_ARG)

clean: ## remove the result store's staging folders and caches (keeps finished cells)
	rm -rf results/.tmp .pytest_cache .benchmarks
