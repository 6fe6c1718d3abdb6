# Two entry points (see README): `make demo` and `make test`. Both set up .venv/ first.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-scale reports clean system-deps

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,spark]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/barstore demo

# The Redis online-store tests start Debian's redis-server on 127.0.0.1, and the Spark tests need a Java runtime
# (Spark 4 runs on Java 17+): each is installed from Debian's packages when missing.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages) for the Redis and Spark tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

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

# The committed reports on real data (not in CI: about 1.5 hours on 2 cores, one after another):
#   make reports DATA=/path/to/the/vendor/files
reports: $(STAMP)
	@test -n "$(DATA)" || { echo "usage: make reports DATA=DIR (the folder holding the vendor files)"; exit 2; }
	bash reports/train_real_data.sh $(DATA) .barstore-real
	$(VENV)/bin/python reports/training_table.py .barstore-real > reports/training_results.md
	$(VENV)/bin/barstore backtest --home .barstore-real --symbols ES --folds 2 --epochs 1 --max-samples 1200 \
	    --seed 0 --out reports/backtest_es
	bash reports/backtest_bitfinex.sh $(DATA) .barstore-bitfinex
	bash reports/longterm_by_year.sh $(DATA) .barstore-longterm

clean:
	rm -rf .barstore $(VENV)
