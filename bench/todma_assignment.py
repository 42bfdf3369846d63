#!/usr/bin/env python3
"""Device assignment of non-colliding tokens by the ToDMA receiver, over many frames.

K devices send held-out text (64 BPE tokens a frame) as OFDM frames at
``--snr`` dB with Rayleigh gains and a common timing and CFO error; the
receiver estimates K. For each (K, L) the JSON gives the share of
non-colliding tokens that reached their own device before any fill, how
often K was found exactly, and where the misses were: on devices in a deep
fade (gain at least 23 dB under the average, ``|h|^2 < 0.005``: too weak to
detect at 20 dB), on devices whose gain lies within ``4 sigma`` of another's
(no clustering can tell them apart: one receive antenna, flat channels), or
elsewhere (detection errors). Sequences are paired with devices by the best
permutation of their content (scoring only).

    .venv/bin/python bench/todma_assignment.py --devices 4,8,12,16 --codeword-len 64 --frames 32
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from json_report import emit_json  # noqa: E402  (bench/, first on sys.path)

from tokencom_sdr.channel import DeviceOffsets  # noqa: E402
from tokencom_sdr.data.heldout_messages import heldout_messages  # noqa: E402
from tokencom_sdr.todma import (ToDMAReceiver, align_sequences, aligned,  # noqa: E402
                                collision_positions, gaussian_codebook, rayleigh_gains,
                                transmit_ofdm_frame)
from tokencom_sdr.todma.clustering import estimate_scale  # noqa: E402
from tokencom_sdr.tokens.text_bpe import TextTokenizer  # noqa: E402

#: A device this far under the average gain is in a deep fade (|h|^2 < 0.005, -23 dB).
DEEP_FADE = 0.005


def _counts(text: str):
    return [int(part) for part in text.split(",") if part.strip()]


def measure(devices: int, codeword_len: int, frames: int, snr: float, seed: int,
            tokenizer) -> dict:
    codebook = gaussian_codebook(codeword_len, 1 << tokenizer.bits_per_token, seed)
    texts = heldout_messages(devices * frames, tokenizer, 64, 128, seed=seed)
    ids = np.stack([tokenizer.encode(text)[:64] for text in texts])
    receiver = ToDMAReceiver(codebook, seed=seed)
    rng = np.random.default_rng([seed, devices, codeword_len, 1])
    right = total = exact_k = 0
    misses = {"deep_fade": 0, "close_gains": 0, "other": 0}
    for frame in range(frames):
        sent = ids[frame * devices:(frame + 1) * devices]
        gains = rayleigh_gains(devices, rng)
        offsets = DeviceOffsets.draw(devices, 0.0, 0.0, rng, common_delay=8.0, common_cfo=1e-3)
        uplink = transmit_ofdm_frame(codebook, sent, gains, snr, rng, offsets)
        result = receiver.receive_samples(uplink.samples, uplink.noise_var, uplink.layout)
        exact_k += int(result.devices == devices)
        order = align_sequences(result.sequences.tokens, ~result.sequences.erased, sent)
        good = ((aligned(result.sequences.tokens, order, -1) == sent)
                & ~aligned(result.sequences.erased, order, True))
        clean = ~collision_positions(sent)
        right += int(good[clean].sum())
        total += int(clean.sum())
        sigma = estimate_scale(uplink.noise_var, codeword_len, devices)
        distance = np.abs(gains[:, None] - gains[None, :])
        np.fill_diagonal(distance, np.inf)
        for device in range(devices):
            missed = int((~good[device] & clean[device]).sum())
            if abs(gains[device]) ** 2 < DEEP_FADE:
                misses["deep_fade"] += missed
            elif distance[device].min() < 4 * sigma:
                misses["close_gains"] += missed
            else:
                misses["other"] += missed
    return {"devices": devices, "codeword_len": codeword_len, "snr_db": snr, "frames": frames,
            "non_colliding_tokens": total,
            "assignment_rate_non_colliding": right / max(total, 1),
            "device_count_exact_rate": exact_k / frames,
            "misses": misses,
            "assignment_rate_without_deep_fades": (right + misses["deep_fade"]) / max(total, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=_counts, default=[4, 8, 12, 16])
    parser.add_argument("--codeword-len", type=_counts, default=[64])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--snr", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    tokenizer = TextTokenizer.default()
    rows = []
    for codeword_len in args.codeword_len:
        for devices in args.devices:
            rows.append(measure(devices, codeword_len, args.frames, args.snr, args.seed, tokenizer))
            print(f"K={devices} L={codeword_len}: {rows[-1]['assignment_rate_non_colliding']:.4f} "
                  f"misses {rows[-1]['misses']}", flush=True)
    emit_json({"rows": rows}, args.json)


if __name__ == "__main__":
    main()
