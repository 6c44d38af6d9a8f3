# Two commands do everything: `make book` (set up, fetch offline assets and
# data, execute every notebook with papermill, build the HTML) and
# `make test`. See README.md.

PYTHON ?= python3
VENV ?= .venv
PROFILE ?= quick
DEVICE ?= auto
SEED ?= 0
# chapters executed at once, each with its share of the cores: two for
# the quick profile (small networks leave a second core half idle), one
# for the full profile
JOBS ?= $(if $(filter quick,$(PROFILE)),2,1)
# Extra pip options for torch, e.g. TORCH_INDEX_URL=<a CUDA wheel index>
TORCH_INDEX_URL ?=
BIN := $(VENV)/bin
ASSETS := book/_static_local
NPM_PACKAGES := @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.8 \
	mathjax@3.2.2

.PHONY: help setup assets data notebooks html book test bench gpu-check \
	lint format lock clean browser-test

help:
	@echo "make book   set up, execute notebooks ($(PROFILE)), build HTML"
	@echo "make test   set up and run the test suite"
	@echo "make notebooks PROFILE=full DEVICE=cuda   papermill batch only"

# --- environment --------------------------------------------------------
$(BIN)/.cpkit-installed: requirements/lock-cpu.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not \
	found: install Python 3.11 (apt-get install python3 python3-venv)"; \
	exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=23.2"
	if [ -n "$(TORCH_INDEX_URL)" ]; then \
	  $(BIN)/pip install -q torch==2.13.0 \
	    --index-url "$(TORCH_INDEX_URL)" || exit 1; \
	  grep -v '^torch==' requirements/lock-cpu.txt > $(VENV)/lock.txt; \
	else cp requirements/lock-cpu.txt $(VENV)/lock.txt; fi
	$(BIN)/pip install -q -r $(VENV)/lock.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

setup: $(BIN)/.cpkit-installed

# --- offline web assets for the HTML book -------------------------------
$(ASSETS)/.complete: | setup
	@command -v npm >/dev/null || { echo "assets: npm not found: install \
	Node.js and npm (apt-get install npm); the book needs them once to \
	fetch its offline widget and MathJax files"; exit 1; }
	rm -rf $(ASSETS) .cache/npm-pack
	mkdir -p .cache/npm-pack $(ASSETS)/jupyter-widgets $(ASSETS)/mathjax
	cd .cache/npm-pack && npm pack --silent $(NPM_PACKAGES) >/dev/null
	cd .cache/npm-pack && for f in *.tgz; do \
	  mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done
	cp .cache/npm-pack/jupyter-widgets-html-manager-*/package/dist/embed-amd.js \
	  $(ASSETS)/jupyter-widgets/
	cp .cache/npm-pack/jupyter-widgets-html-manager-*/package/dist/*.woff* \
	  .cache/npm-pack/jupyter-widgets-html-manager-*/package/dist/*.ttf \
	  .cache/npm-pack/jupyter-widgets-html-manager-*/package/dist/*.eot \
	  .cache/npm-pack/jupyter-widgets-html-manager-*/package/dist/*.svg \
	  $(ASSETS)/jupyter-widgets/ 2>/dev/null || true
	cp .cache/npm-pack/requirejs-*/package/require.js $(ASSETS)/require.js
	cd .cache/npm-pack/mathjax-*/package/es5 && cp -r tex-mml-chtml.js \
	  input output ui a11y adaptors $(CURDIR)/$(ASSETS)/mathjax/
	cp "$$($(BIN)/python -c 'import plotly, pathlib; \
	print(pathlib.Path(plotly.__file__).parent / "package_data" / \
	"plotly.min.js")')" $(ASSETS)/plotly.min.js
	cp book/static/widgets-config.js $(ASSETS)/
	@touch $@

assets: $(ASSETS)/.complete

# --- offline data (Debian package; optional for the theory chapters) ----
data:
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; \
	then echo "data: Fashion-MNIST found in /usr/share/datasets"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get \
	   install -y -qq dataset-fashion-mnist >/dev/null) \
	  && echo "data: installed Debian dataset-fashion-mnist" \
	  || echo "data: could not install dataset-fashion-mnist with apt; \
	chapters that need it will stop with a message"; \
	else echo "data: Fashion-MNIST missing; install it with \
	'sudo apt-get install dataset-fashion-mnist' (Debian/Ubuntu)"; fi

# --- the book ------------------------------------------------------------
notebooks: setup
	$(BIN)/cpkit notebooks --profile $(PROFILE) --device $(DEVICE) \
	  --seed $(SEED) --jobs $(JOBS)

html: setup assets
	$(BIN)/jupyter-book build . -W -n --keep-going --builder html
	@echo "book: open _build/html/index.html"

book: setup assets data
	$(MAKE) notebooks
	$(MAKE) html

# --- the built book in a real browser (Debian chromium, offline) -------
browser-test:
	@test -f _build/html/index.html || { echo "browser-test: no built \
	book in _build/html: run 'make book' first"; exit 1; }
	@if ! [ -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get \
	    install -y -qq chromium >/dev/null || exit 1; \
	  else echo "browser-test: needs /usr/bin/chromium: run 'sudo \
	apt-get install chromium'"; exit 1; fi; fi
	cd tests/browser && npm ci --silent --no-audit --no-fund
	node tests/browser/check_book.mjs _build/html

# --- tests and style -----------------------------------------------------
test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/reference_pipeline.py --device $(DEVICE)
	$(BIN)/python benchmarks/batched_sweeps.py --device $(DEVICE)

# the device check: one CUDA GPU, under 8 minutes (results/benchmarks/gpu)
gpu-check: setup
	$(BIN)/python benchmarks/gpu_check.py

lint: setup
	$(BIN)/ruff format --check cpkit tests notebooks benchmarks
	$(BIN)/ruff check cpkit tests notebooks benchmarks

format: setup
	$(BIN)/ruff format cpkit tests notebooks benchmarks
	$(BIN)/ruff check --fix cpkit tests notebooks benchmarks

lock:
	rm -rf .cache/lock-venv
	$(PYTHON) -m venv .cache/lock-venv
	.cache/lock-venv/bin/pip install -q -r requirements/top-level.txt
	{ head -3 requirements/lock-cpu.txt; .cache/lock-venv/bin/pip freeze \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > .cache/lock.txt
	mv .cache/lock.txt requirements/lock-cpu.txt

clean:
	rm -rf _build $(ASSETS) .cache notebooks/*.ipynb
