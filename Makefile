# The two commands: `make book` and `make test`. Both set up everything they need first.
#   make book [PROFILE=cpu|tiny|paper]   execute the notebooks for a profile, build _build/html
#   make test                            run the whole test suite (includes a tiny-profile book build)

PROFILE ?= cpu
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synthmed-installed

.PHONY: book test lint venv node clean distclean

book: venv node
	$(PY) -m synthmed book --profile $(PROFILE)

test: venv node
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .

venv: $(STAMP)

# constraints.txt pins the exact versions make installs and CI tests (torch comes from local disk here).
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

node: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts

clean:
	rm -rf _build _vendor notebooks/*.ipynb

distclean: clean
	rm -rf $(VENV) node_modules .synthmed
