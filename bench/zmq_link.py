"""Recovery on the live receive path: ``tokencom tx`` and ``tokencom rx`` as
two OS processes over the ZMQ virtual radio, the channel on the RX side.

Sends one text (``--text``) or image (``--image``) ``--count`` times, receives
with ``--recovery`` (default: the best mode), optionally records and replays
the received IQ, and prints one JSON object:

* text: ``exact_raw_rate``, ``exact_rate``, ``token_error_rate_raw``,
  ``token_error_rate`` (means over the messages), ``packet_error_rate``;
* image: ``psnr_no_recovery_db``, ``psnr_db`` (means), ``packet_error_rate``;
* both: ``messages``, ``packets_redecoded``, and with ``--replay-check``
  ``replay_identical`` (the replay of the recording gives the same messages
  and metrics) and the keys that differ, if any.

Example (the issue's measurement)::

    .venv/bin/python bench/zmq_link.py --snr 2.5 --count 30 --replay-check \\
        --text "A paragraph the models never saw." --json out/zmq_text.json
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from json_report import emit_json  # noqa: E402

CLI = [sys.executable, "-u", "-m", "tokencom_sdr.cli"]
REPO = Path(__file__).resolve().parents[1]
#: Keys compared between the live run and its replay (times of day and
#: latencies naturally differ; floats must agree to 1e-9).
COMPARED = ("message_id", "received_text", "received_text_raw", "packets_received",
            "packets_redecoded", "failed_packets_used", "tokens_sent", "exact", "exact_raw",
            "token_error_rate", "token_error_rate_raw", "snr_db", "cfo", "first_sample",
            "channel_uses", "psnr_db", "psnr_no_recovery_db")


def _wait_for_endpoint(proc, timeout=60.0) -> str:
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "bound to tcp://" in line:
            return line.strip().rsplit(" ", 1)[-1]
    raise RuntimeError("the transmitter did not report its endpoint:\n" + "".join(lines))


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-9, atol=1e-12))
    return a == b


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="text to send")
    what.add_argument("--image", help="image file (or bundled name) to send")
    parser.add_argument("--max-side", type=int, default=96, help="images: shrink to this side")
    parser.add_argument("--tokenizer", default="standard", help="images: standard or low-rate")
    parser.add_argument("--snr", type=float, required=True, help="burst SNR on the RX side, dB")
    parser.add_argument("--cfo", type=float, default=0.002, help="normalised CFO on the RX side")
    parser.add_argument("--count", type=int, default=30, help="messages")
    parser.add_argument("--mcs", default="qpsk-1/2")
    parser.add_argument("--packet-tokens", type=int, default=32)
    parser.add_argument("--recovery", default=None, help="rx --recovery (default: the best)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replay-check", action="store_true",
                        help="record the received IQ and check that its replay gives the same "
                             "messages and metrics")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the receiver's JSON, recording and replay in this folder")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        tx_args = ["tx", "--radio", "zmq", "-a", "tcp://127.0.0.1:0", "--mcs", args.mcs,
                   "--repeat", str(args.count), "--interval", "0.05",
                   "--packet-tokens", str(args.packet_tokens)]
        rx_args = ["rx", "--radio", "zmq", "--count", str(args.count), "--snr", str(args.snr),
                   "--cfo", str(args.cfo), "--seed", str(args.seed), "--json",
                   str(folder / "rx.json")]
        expect = []
        if args.text is not None:
            tx_args += ["--text", args.text]
            expect = ["--expect", args.text]
        else:
            from PIL import Image

            from tokencom_sdr.data.image_data import load_image_source

            source = folder / "sent.png"
            Image.fromarray(load_image_source(args.image, args.max_side)).save(source)
            tx_args += ["--image", str(source), "--tokenizer", args.tokenizer]
            expect = ["--expect-image", str(source), "--expect-tokenizer", args.tokenizer]
        rx_args += expect
        if args.recovery:
            rx_args += ["--recovery", args.recovery]
        if args.replay_check:
            rx_args += ["--record", str(folder / "rx.sigmf-data")]
        started = time.perf_counter()
        tx = subprocess.Popen(CLI + tx_args, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        rx = None
        try:
            endpoint = _wait_for_endpoint(tx)
            rx = subprocess.Popen(CLI + rx_args + ["-a", endpoint], cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            tx.wait(timeout=1800)
            # A message none of whose packets arrives is never delivered, so
            # the receiver may wait for a count it cannot reach: once the
            # transmitter is done, give it a moment, then stop it (Ctrl-C).
            try:
                rx.wait(timeout=20)
            except subprocess.TimeoutExpired:
                rx.send_signal(signal.SIGINT)
                rx.wait(timeout=60)
            if rx.returncode != 0:
                raise RuntimeError(f"rx failed:\n{rx.stderr.read()[-3000:]}")
        finally:
            for proc in (tx, rx):
                if proc is not None and proc.poll() is None:
                    proc.kill()
        elapsed = time.perf_counter() - started
        reports = json.loads((folder / "rx.json").read_text()) if (folder / "rx.json").exists() \
            else []
        # Rates are over the messages sent: one never delivered (no packet of
        # it arrived) counts as lost entirely, before and after recovery.
        missing = args.count - len(reports)
        sent = lambda values, lost: float(np.mean(list(values) + [lost] * missing))  # noqa: E731
        result = {"modality": reports[0]["modality"] if reports else None, "snr_db": args.snr,
                  "mcs": args.mcs, "messages_sent": args.count, "messages": len(reports),
                  "recovery": reports[0]["recovery"] if reports else None,
                  "elapsed_s": elapsed,
                  "packet_error_rate": sent((r["packet_error_rate"] for r in reports), 1.0),
                  "packets_redecoded": int(sum(r["packets_redecoded"] for r in reports))}
        if args.text is not None:
            result.update(
                exact_raw_rate=sent((bool(r["exact_raw"]) for r in reports), 0.0),
                exact_rate=sent((bool(r["exact"]) for r in reports), 0.0),
                token_error_rate_raw=sent((r["token_error_rate_raw"] for r in reports), 1.0),
                token_error_rate=sent((r["token_error_rate"] for r in reports), 1.0))
        else:
            # (an image never delivered has no PSNR: these are over the delivered ones)
            result.update(
                psnr_no_recovery_db=float(np.mean([r["psnr_no_recovery_db"] for r in reports])),
                psnr_db=float(np.mean([r["psnr_db"] for r in reports])))
        if args.replay_check:
            replay = subprocess.run(
                CLI + ["rx", "--replay", str(folder / "rx.sigmf-meta"), "--count",
                       str(args.count), "--json", str(folder / "replay.json")] + expect
                + (["--recovery", args.recovery] if args.recovery else []),
                cwd=REPO, capture_output=True, text=True, timeout=1800)
            if replay.returncode != 0:
                raise RuntimeError(f"replay failed:\n{replay.stderr[-3000:]}")
            replayed = json.loads((folder / "replay.json").read_text())
            differing = sorted({key for live, again in zip(reports, replayed)
                                for key in COMPARED if key in live
                                and not _same(live[key], again.get(key))})
            result["replay_identical"] = len(replayed) == len(reports) and not differing
            result["replay_differing_keys"] = differing
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
