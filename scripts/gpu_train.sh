#!/usr/bin/env bash
# Continue training the default context models on one GPU, all at once.
#
# usage: scripts/gpu_train.sh OUTDIR [MINUTES]
#
# Runs on a machine with torch and a CUDA GPU, no network and no GNU Radio
# (the trainers are reached through `python -m tokencom_sdr.cli.train`). It
# needs the folder that scripts/gpu_pack.py writes here (.gpu/, or $GPU_PACK):
# the corpus and modern-English text, and the training images.
#
# Each run starts from the committed model (--init) and trains for MINUTES
# (default 6) of wall-clock time, side by side on the one GPU: the text model
# on the corpus alone and on corpus + modern English, and both image context
# models on the bundled images plus the train photos. Checkpoints go straight
# to OUTDIR and are rewritten as training goes, so a run cut short still
# leaves weights.
# OUTDIR/train.log gets each run's last lines (held-out fill accuracy for
# text). Bring OUTDIR back, then measure each model here with the benchmarks
# (bench/text_sources.py, bench/photo_baseline.py) before committing one.
#
# Exit status: 0 when every run ended well, 1 when one failed (its log tail
# is printed; the others still run to the end), 2 on bad usage.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUTDIR [MINUTES]" >&2
    exit 2
fi
out=$1
minutes=${2:-6}
pack=${GPU_PACK:-.gpu}
py=${PYTHON:-python3}
device=${DEVICE:-cuda}
models=tokencom_sdr/context/data

if [ ! -f "$pack/cache.tar.xz" ] || [ ! -d "$pack/images" ]; then
    echo "$pack/cache.tar.xz or $pack/images is missing: run scripts/gpu_pack.py first" >&2
    exit 2
fi
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xJf "$pack/cache.tar.xz" -C "$work"
mkdir -p "$work/logs"
export TOKENCOM_CACHE=$work PYTHONUNBUFFERED=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
# cuBLAS may use TF32 for the float32 matmuls: several times faster on the
# GPU, and the weights are stored as float16 anyway.
export TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1

"$py" -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, \
'cuda', torch.cuda.is_available() and torch.cuda.get_device_name(0))"

declare -A pid
run() {
    local name=$1
    shift
    "$py" -m tokencom_sdr.cli.train "$@" --device "$device" --threads 2 \
        >"$work/logs/$name.log" 2>&1 &
    pid[$name]=$!
    echo "started $name: $*"
}

text=(text-context --init "$models/text_context.safetensors" --minutes "$minutes"
      --save-every 1000 --lr 3e-4 --tokens-per-step 32768)
run text_corpus "${text[@]}" --data corpus --out "$out/text_context_corpus.safetensors"
run text_corpus_modern "${text[@]}" --data corpus+modern \
    --out "$out/text_context_corpus_modern.safetensors"

image=(image-context --images "$pack/images" --max-minutes "$minutes" --steps 10000000 --quiet
       --lr 3e-4 --batch 128)
run image_standard "${image[@]}" --tokenizer standard \
    --init "$models/image_context_standard.safetensors" \
    --out "$out/image_context_standard.safetensors"
run image_lowrate "${image[@]}" --tokenizer low-rate \
    --init "$models/image_context_lowrate.safetensors" \
    --out "$out/image_context_lowrate.safetensors"

status=0
while [ ${#pid[@]} -gt 0 ]; do
    sleep 5
    for name in "${!pid[@]}"; do
        if kill -0 "${pid[$name]}" 2>/dev/null; then
            continue
        fi
        wait "${pid[$name]}"
        rc=$?
        unset "pid[$name]"
        echo "$name ended with status $rc after ${SECONDS}s"
        if [ $rc -ne 0 ]; then
            status=1
            tr '\r' '\n' <"$work/logs/$name.log" | tail -n 20
        fi
    done
done

for log in "$work"/logs/*.log; do
    echo "== $(basename "$log" .log)"
    # Progress bars redraw with carriage returns: keep the last lines only.
    tr '\r' '\n' <"$log" | grep -v '^$' | tail -n 4
done >"$out/train.log"
cat "$out/train.log"
exit $status
