# The two commands of the README: `make demo` and `make test`.
# Both first run the idempotent setup (apt gnuradio, .venv, pip).
PY := .venv/bin/python

.PHONY: setup demo test bench grc-check

setup:
	@bash scripts/setup_env.sh

demo: setup
	$(PY) -m tokencom_sdr.cli demo

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) bench/phy_throughput.py --json out/phy_throughput.json
