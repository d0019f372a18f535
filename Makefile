# adlib-book. The two commands: `make book` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

SCALE ?= cpu
PAPER ?=
TABLE ?=
FIGURE ?=
ARTEFACT ?=
SEEDS ?=
DEVICE ?=

# One torch thread per process on small machines: two spinning OpenMP threads per process
# are 10-20x slower on 2 cores (../shared/specs/toolchain.md). Sweeps run one process per core.
export OMP_WAIT_POLICY := PASSIVE
export MPLCONFIGDIR ?= $(CURDIR)/build/mplconfig
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: venv data book test test-unit test-notebooks test-book test-browser screenshots reproduce benchmark benchmark-gpu clean help

help:
	@echo "make book                      build the book (creates .venv, checks data, runs notebooks at cpu scale)"
	@echo "make test                      unit tests, notebooks at smoke scale (nbval), book build, book in headless Chromium"
	@echo "make screenshots               rebuild the book and refresh the README's screenshots (docs/screenshots)"
	@echo "make reproduce TABLE=1 [PAPER=hendrycks2019] [FIGURE=4] [SCALE=smoke|cpu|paper] [SEEDS=0,1,2] [DEVICE=cuda]"
	@echo "make book FORCE=1              re-compute every cpu-scale result (each run once), then build; times in results/book_times.json"
	@echo "make book FORCE=1 PAPERS=a,b    the same for these papers' chapters only; times in results/book_times.<paper>.json"
	@echo "make book FORCE=1 LANES=1      one paper after another (default: the papers in one lane per core, at once)"
	@echo "make book FORCE=1 PRUNE=1      also delete the stored cpu results no page uses any more (the build lists them)"
	@echo "make benchmark                 training throughput per model family vs an official-style loop, and peak memory"
	@echo "make benchmark-gpu             the same throughput on a CUDA GPU, bf16 autocast vs the official-style fp32 loop"

venv: $(STAMP)

# torch 2.14.1 / torchvision 0.29.1 is the pair that installs (offline, from the machine's wheel
# cache) on the project's machines; see README "Environment".
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

data: venv
	$(PY) -m adlib.data fetch fashion_mnist

book: venv data
	$(PY) -m adlib.book build $(if $(FORCE),--force) $(if $(PAPERS),--papers $(PAPERS)) $(if $(LANES),--lanes $(LANES)) $(if $(PRUNE),--prune)

test: test-unit test-notebooks test-book test-browser

# The tests marked `book` check the built book: they run in test-browser, after test-book.
test-unit: venv
	$(PY) -m pytest -q -m "not book" tests

# Every notebook at smoke scale, twice: papermill writes the outputs, then nbval re-executes
# each notebook (re-training from scratch: fresh checkpoint dir, force=True) and compares the
# cells marked NBVAL_CHECK_OUTPUT, i.e. the runs are bit-reproducible.
test-notebooks: venv
	rm -rf build/smoke build/smoke-results build/smoke-ckpt-1 build/smoke-ckpt-2
	ADLIB_CHECKPOINTS=build/smoke-ckpt-1 ADLIB_PROGRESS=0 $(PY) -m adlib.book execute --scale smoke --force --executed-dir build/smoke
	ADLIB_CHECKPOINTS=build/smoke-ckpt-2 ADLIB_PROGRESS=0 $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env build/smoke

# The book at cpu scale from the committed results only (a missing result is an error, not a
# training run), Sphinx warnings as errors.
test-book: venv data
	ADLIB_STORED_ONLY=1 ADLIB_PROGRESS=0 $(PY) -m adlib.book build

# The built book: no remote resources, no broken links (tests/test_book_html.py), and in headless
# Chromium served on 127.0.0.1 (tests/test_book_browser.py: front page, every paper, math, no
# console errors; screenshots to build/screenshots). Needs Debian's chromium (.ci/run installs it).
test-browser: test-book
	$(PY) -m pytest -q -p no:cacheprovider -m book tests

# The README's screenshots: the front page and one page per reproduced paper. Re-run and commit
# docs/screenshots when a paper lands (tests/test_book_browser.py checks the README shows them).
screenshots: test-book
	ADLIB_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -p no:cacheprovider -m book tests/test_book_browser.py

reproduce: venv
	$(PY) -m adlib.reproduce --scale $(SCALE) \
	  $(if $(PAPER),--paper $(PAPER)) $(if $(TABLE),--table $(TABLE)) $(if $(FIGURE),--figure $(FIGURE)) \
	  $(if $(ARTEFACT),--artefact $(ARTEFACT)) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(DEVICE),--device $(DEVICE)) \
	  $(if $(WORKERS),--workers $(WORKERS))

benchmark: venv data
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/peak_memory.py

benchmark-gpu: venv data
	$(PY) benchmarks/train_throughput.py --device cuda

clean:
	rm -rf build book/_build book/executed book/_toc.yml
