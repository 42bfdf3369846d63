# The two commands of the README: `make demo` and `make test`.
# Both first run the idempotent setup (apt gnuradio, .venv, pip).
PY := .venv/bin/python

.PHONY: setup demo test bench grc-check mutation

setup:
	@bash scripts/setup_env.sh

demo: setup
	$(PY) -m tokencom_sdr.cli demo

# The tests also need a headless browser (the report screenshot test).
test:
	@bash scripts/setup_env.sh --test
	$(PY) -m pytest -q tests

bench: setup
	$(PY) bench/phy_throughput.py --json out/phy_throughput.json

# Mutation testing of the integrity checks and metrics (setup.cfg [mutmut]):
# mutmut mutates packet.py, phy_header.py, the assembler, soft reassembly,
# the image and text metrics (image_quality, token_errors, semantic) and runs
# the tests that cover each mutated function; a surviving mutant is a change
# no test notices. Long (hours on 2 shared cores: see docs/testing.md); mutmut is installed here, `make test` does not need it.
# `mutmut browse` or `mutmut show NAME` shows a mutant's diff. mutants/ is
# removed first: mutmut copies the modules it does not mutate only when they
# are missing there, so an old copy would test today's mutants against
# yesterday's code.
mutation: setup
	$(PY) -m pip install -q -c constraints.txt "mutmut==3.8.1"
	rm -rf mutants
	$(PY) -m mutmut run --max-children 2
	$(PY) scripts/mutation_report.py
