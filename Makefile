# Quick start (as root on a fresh Debian/Ubuntu machine): `make demo`, then `make test`.
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/tools/bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: deps demo test lint bench clean

deps:
	./scripts/install-deps.sh

demo: deps
	$(VENV)/bin/python examples/demo/run_demo.py

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/ansible-lint --offline --profile production playbooks roles

test: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/ansible-lint --offline --profile production playbooks roles
	$(VENV)/bin/python -m pytest -q -rs --durations=30 tests

bench: deps
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf out build
