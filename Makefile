# Two entry points (see README): `make demo` and `make test`. Both set up .venv/ first.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-scale clean system-deps

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/barstore demo

# The Redis online-store tests start Debian's redis-server on 127.0.0.1 (installed here when missing).
system-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (Debian package) for the Redis tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP) system-deps lint
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(VENV)/bin/python $$b; done

# The users' scale end to end (not in CI: ~25 minutes on 2 cores); see BENCHMARKS.md.
bench-scale: $(STAMP)
	$(VENV)/bin/python benchmarks/scale_end_to_end.py --symbols 118 300 --sp500

clean:
	rm -rf .barstore $(VENV)
