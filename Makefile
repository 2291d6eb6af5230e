# Two commands on a fresh machine with only Python 3.10+:
#   make run    install into .venv/, train on data/ETTh1.csv, write out/forecast.csv and out/forecast.png
#   make test   install (with test tools, Mosquitto, openssl and redis-server where missing), run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench clean mosquitto openssl redis-server

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/forecaster train --data data/ETTh1.csv --out out/etth1 --targets OT --epochs 8 --seed 0
	$(BIN)/forecaster predict --model out/etth1 --data data/ETTh1.csv --out out/forecast.csv --plot out/forecast.png

mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null)

# the TLS tests make their CA and certificates with the openssl command
openssl:
	@command -v openssl >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null)

# the replica tests start their own redis-server (append-only file on, a free port)
redis-server:
	@command -v redis-server >/dev/null 2>&1 || test -x /usr/bin/redis-server || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null)

test: $(STAMP) mosquitto openssl redis-server
	$(BIN)/python -m pytest -q

# The fast lane for a developer's loop: unit tests, doctests and the import contracts (no training,
# no broker, no subprocess); well under two minutes.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check forecaster pipelines tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf out build .pytest_cache
