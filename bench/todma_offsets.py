#!/usr/bin/env python3
"""What per-device residual timing offsets and CFOs cost ToDMA.

Every device shares the receiver's common timing and CFO error (removed by
the frame preamble and pilots); on top, each device gets its own residual
delay in ``[0, D]`` samples or CFO in ``[-F, F]`` cycles per sample, which
the receiver does not correct per device. For each D (with F = 0) and each
F (with D = 0) the bench runs ``todma-no-context`` (no context model: the
receiver's own errors) on held-out text and reports the assignment rate of
non-colliding tokens, the token error rate and the estimated K.

    .venv/bin/python bench/todma_offsets.py --devices 8 --json docs/results/todma/offsets_k8_L64.json
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

from json_report import emit_json  # noqa: E402  (bench/, first on sys.path)

from tokencom_sdr.experiments.todma_eval import TodmaEvalConfig, run_todma_eval  # noqa: E402


def _floats(text: str):
    return [float(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--codeword-len", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--snr", type=float, default=20.0)
    parser.add_argument("--delays", type=_floats, default=[0.0, 0.01, 0.02, 0.05, 0.1, 0.25],
                        help="largest per-device delays D, samples (comma list)")
    parser.add_argument("--cfos", type=_floats, default=[5e-7, 1e-6, 2e-6, 5e-6, 1e-5],
                        help="largest per-device CFOs F, cycles per sample (comma list)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    points = [(delay, 0.0) for delay in args.delays] + [(0.0, cfo) for cfo in args.cfos]
    rows = []
    for delay, cfo in points:
        config = TodmaEvalConfig(devices=[args.devices], snrs=[args.snr],
                                 codeword_len=args.codeword_len, frames=args.frames,
                                 schemes=("todma-no-context",), seed=args.seed, semantic=False,
                                 max_delay=delay, max_cfo=cfo)
        row = run_todma_eval(config)[0]
        rows.append({key: row[key] for key in (
            "devices", "codeword_len", "snr_db", "frames", "max_delay_samples", "max_cfo",
            "common_delay_samples", "common_cfo", "assignment_rate_non_colliding",
            "token_error_rate", "devices_estimated", "device_count_exact_rate")})
        print(f"D={delay:g} F={cfo:g}: assignment {row['assignment_rate_non_colliding']:.3f}, "
              f"TER {row['token_error_rate']:.3f}, K^ {row['devices_estimated']:.2f}", flush=True)
    emit_json({"points": rows}, args.json)


if __name__ == "__main__":
    main()
