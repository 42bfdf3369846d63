#!/usr/bin/env bash
# Train on one GPU, side by side: the standard image tokenizer fine-tuned on
# photographs, the models that read its token ids, and the text model.
#
# usage: scripts/gpu_train.sh OUTDIR [MINUTES]
#
# Runs on a machine with torch and a CUDA GPU, no network and no GNU Radio
# (the trainers are reached through `python -m tokencom_sdr.cli.train`). It
# needs the folder that scripts/gpu_pack.py writes here (.gpu/, or $GPU_PACK):
# the corpus and modern-English text, the labelled digits, and the training
# images.
#
# Every run starts from a committed model (--init). In the first 45 % of
# MINUTES (default 6) the standard tokenizer is fine-tuned on the bundled
# images and the train photos, encoder, codebook and decoder (tokenizer_all:
# new ids). Then, for the rest of the time, the standard context model and
# the caption model are fine-tuned on that tokenizer's ids (context_all,
# caption_all). All along, as fallbacks that keep today's ids: the decoder
# alone is fine-tuned (tokenizer_decoder), and the caption model goes on with
# today's tokenizer (caption). The text model is continued on the corpus
# alone and on corpus + modern English (average them with `tokencom train
# text-context-average`). Checkpoints go straight to OUTDIR and are
# rewritten as training goes, so a run cut short still leaves weights.
# OUTDIR/train.log gets each run's last lines. Bring OUTDIR back, then
# measure each model here with the benchmarks (bench/photo_baseline.py,
# bench/text_sources.py, tokencom caption-eval) before committing one.
# The earlier passes (the context models alone) are this script at commits
# aa0ba77 and b744c59.
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

# Minutes for the tokenizer, then for the models that read its new ids (less
# the time they spend tokenizing their training images first).
first=$("$py" -c "print(round($minutes * 0.45, 2))")
second=$("$py" -c "print(round($minutes * 0.55 - 0.6, 2))")
tokenizer_models=tokencom_sdr/tokens/data
caption_model=$models/image_context_digits_caption.safetensors

tokenizer=(image-tokenizer --preset standard --init "$tokenizer_models/image_vq_standard.safetensors"
           --images "$pack/images" --crop 128 --batch 64 --steps 10000000 --quiet)
run tokenizer_all "${tokenizer[@]}" --train all --lr 2e-4 --max-minutes "$first" \
    --out "$out/image_vq_standard_all.safetensors"
run tokenizer_decoder "${tokenizer[@]}" --train decoder --lr 3e-4 --max-minutes "$minutes" \
    --out "$out/image_vq_standard_decoder.safetensors"

caption=(caption-context --init "$caption_model" --film --steps 10000000 --batch 256 --lr 3e-4
         --quiet)
run caption "${caption[@]}" --max-minutes "$minutes" \
    --out "$out/image_context_digits_caption.safetensors"

text=(text-context --init "$models/text_context.safetensors" --minutes "$minutes"
      --save-every 1000 --lr 3e-4 --tokens-per-step 32768)
run text_corpus "${text[@]}" --data corpus --out "$out/text_context_corpus.safetensors"
run text_corpus_modern "${text[@]}" --data corpus+modern \
    --out "$out/text_context_corpus_modern.safetensors"

# The second stage needs the fine-tuned tokenizer's file.
wait "${pid[tokenizer_all]}"
rc=$?
unset "pid[tokenizer_all]"
echo "tokenizer_all ended with status $rc after ${SECONDS}s"
status=0
if [ $rc -ne 0 ]; then
    status=1
    tr '\r' '\n' <"$work/logs/tokenizer_all.log" | tail -n 20
else
    new_tokenizer=$out/image_vq_standard_all.safetensors
    run context_all image-context --tokenizer "$new_tokenizer" --images "$pack/images" \
        --init "$models/image_context_standard.safetensors" --max-minutes "$second" \
        --steps 10000000 --quiet --lr 3e-4 --batch 128 \
        --out "$out/image_context_standard_all.safetensors"
    run caption_all "${caption[@]}" --tokenizer "$new_tokenizer" --max-minutes "$second" \
        --out "$out/image_context_digits_caption_all.safetensors"
fi

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
