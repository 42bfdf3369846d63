#!/usr/bin/env python3
"""Time per slot of each ToDMA receiver stage, K devices sending held-out text.

K devices each send ``--frames`` held-out messages of ``--slots`` BPE tokens
(frames x slots slots in all; 16 x 64 = 1024 by default) at ``--snr`` dB over
a codebook of ``--codeword-len`` channel uses per slot, as OFDM frames with
a preamble, a common timing and CFO error (up to 8 samples and 1e-3 cycles
per sample). The receiver runs frame synchronisation, detection (OMP),
clustering with K estimated, the sequence rebuild, joint detection with
collision masking, and the context fill restricted to each slot's detected
tokens; the JSON gives the milliseconds per slot of each stage, the total
wall time, and the measured collision, assignment and K-estimate rates.

    .venv/bin/python bench/todma_stages.py --devices 16 --json docs/results/todma/stages.json

One torch and one BLAS thread (the machine's cores are shared), set before
numpy is imported.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from json_report import emit_json  # noqa: E402  (bench/, first on sys.path)

from tokencom_sdr.context.text_recovery import TextRecovery  # noqa: E402
from tokencom_sdr.data.heldout_messages import heldout_messages  # noqa: E402
from tokencom_sdr.channel import DeviceOffsets  # noqa: E402
from tokencom_sdr.todma import (STAGES, ToDMAReceiver, align_sequences, aligned,  # noqa: E402
                                collision_positions, gaussian_codebook, rayleigh_gains,
                                transmit_ofdm_frame)
from tokencom_sdr.tokens.text_bpe import TextTokenizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=16)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--codeword-len", type=int, default=64)
    parser.add_argument("--snr", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)

    tokenizer = TextTokenizer.default()
    recovery = TextRecovery()
    codebook = gaussian_codebook(args.codeword_len, 1 << tokenizer.bits_per_token, args.seed)
    texts = heldout_messages(args.devices * args.frames, tokenizer, args.slots, 128,
                             seed=args.seed)
    ids = np.stack([tokenizer.encode(text)[:args.slots] for text in texts])
    receiver = ToDMAReceiver(codebook, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    stage_s = {stage: 0.0 for stage in STAGES}
    collisions = restored = non_colliding = assigned = counted = 0
    start = time.perf_counter()
    for frame in range(args.frames):
        sent = ids[frame * args.devices:(frame + 1) * args.devices]
        gains = rayleigh_gains(args.devices, rng)
        offsets = DeviceOffsets.draw(args.devices, 0.0, 0.0, rng, common_delay=8.0,
                                     common_cfo=1e-3)
        uplink = transmit_ofdm_frame(codebook, sent, gains, args.snr, rng, offsets)
        result = receiver.receive_samples(uplink.samples, uplink.noise_var, uplink.layout,
                                          text_recovery=recovery,
                                          bits_per_token=tokenizer.bits_per_token)
        for stage, seconds in result.stage_s.items():
            stage_s[stage] += seconds
        counted += int(result.devices == args.devices)
        order = align_sequences(result.sequences.tokens, ~result.sequences.erased, sent)
        colliding = collision_positions(sent)
        collisions += int(colliding.sum())
        restored += int((aligned(result.filled, order, -1) == sent)[colliding].sum())
        clean = ((aligned(result.sequences.tokens, order, -1) == sent)
                 & ~aligned(result.sequences.erased, order, True))
        non_colliding += int((~colliding).sum())
        assigned += int(clean[~colliding].sum())
    wall = time.perf_counter() - start
    slots = args.frames * args.slots
    emit_json({
        "devices": args.devices, "codeword_len": args.codeword_len, "snr_db": args.snr,
        "frames": args.frames, "slots": slots,
        "stage_ms_per_slot": {stage: 1e3 * seconds / slots for stage, seconds in stage_s.items()},
        "wall_s": wall,
        "wall_s_without_recovery": wall - stage_s["recovery"],
        "collisions": collisions,
        "collisions_resolved_rate": restored / max(collisions, 1),
        "assignment_rate_non_colliding": assigned / max(non_colliding, 1),
        "device_count_exact_rate": counted / args.frames,
        "threads": {"torch": torch.get_num_threads(), "blas": os.environ["OPENBLAS_NUM_THREADS"]},
    }, args.json)


if __name__ == "__main__":
    main()
