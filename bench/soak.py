#!/usr/bin/env python3
"""Soak: many flowgraphs and many packets in one process, and what the
process holds at the start and the end of each part.

Three parts, each reporting RSS, memory mappings (shared-memory ones
apart), open file descriptors, threads and GNU Radio's count of live blocks
and buffers before and after (:mod:`tokencom_sdr.metrics.process_resources`;
the packet parts also half way, to tell a leak from the allocator settling):

* ``rebuilds``: ``--rebuilds`` in-process ``tokencom tx --radio loopback``
  runs (transmitter, software channel and receiver flowgraphs built and
  dropped each time), after one warm-up run;
* ``loopback``: ``--packets`` random packets through the OFDM transmitter,
  a software channel and the receiver, ``--batch`` packets per flowgraph;
* ``zmq``: the same number of packets from a ZMQ PUSH sender to a receiver
  flowgraph in this process (ZMQ PULL source, OFDM receiver), over
  ``tcp://127.0.0.1`` only.

Each part counts the packets delivered intact. Prints one JSON object.

    .venv/bin/python bench/soak.py --packets 10000 --json docs/results/soak/soak.json
"""

import argparse
import contextlib
import gc
import io
import platform
import queue
import sys
import time
from pathlib import Path

import numpy as np
from gnuradio import gr
from json_report import emit_json  # bench/, first on sys.path when a bench runs

from tokencom_sdr.app.rx import RxFlowgraph
from tokencom_sdr.channel.loopback_channel import LoopbackChannel
from tokencom_sdr.cli.main import main as tokencom
from tokencom_sdr.experiments.per_sweep import random_packets
from tokencom_sdr.metrics.process_resources import process_resources
from tokencom_sdr.phy.modem import modulate, run_phy_loopback
from tokencom_sdr.radio.profile import load_profile
from tokencom_sdr.radio.zmq_radio import ZmqIqSender, make_pull_source

MCS = "qpsk-1/2"
SNR_DB = 25.0


def _snapshot() -> dict:
    """The process's resources, and GNU Radio's own count of the blocks and
    buffers alive (0 between flowgraphs when nothing leaks)."""
    gc.collect()
    return {**process_resources().to_json(),
            "gnuradio_blocks_alive": gr.basic_block_ncurrently_allocated(),
            "gnuradio_buffers_alive": gr.buffer_ncurrently_allocated()}


def _part(run) -> dict:
    """``run()``'s report with the resources before and after it."""
    before = _snapshot()
    started = time.perf_counter()
    report = run()
    report["elapsed_s"] = round(time.perf_counter() - started, 2)
    after = _snapshot()
    report.update(start=before, end=after,
                  shared_memory_mappings_added=after["shared_memory_mappings"]
                  - before["shared_memory_mappings"],
                  rss_growth=round(after["rss_mb"] / before["rss_mb"] - 1.0, 4))
    return report


def _loopback_tx_once() -> bool:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = tokencom(["tx", "--radio", "loopback", "--text", "soak: hello over the loopback"])
    return code == 0 and "exact True" in out.getvalue()


def rebuilds(count: int) -> dict:
    exact = sum(_loopback_tx_once() for _ in range(count))
    return {"runs": count, "exact": exact}


def loopback(packets: list, batch: int) -> dict:
    sent = set(packets)
    delivered, midway = 0, None
    for start in range(0, len(packets), batch):
        chunk = packets[start:start + batch]
        result = run_phy_loopback(chunk, MCS, LoopbackChannel(SNR_DB, 0.002, 10.0, [1.0], start))
        delivered += sum(1 for burst in result.received if burst.data in sent)
        if midway is None and start + batch >= len(packets) // 2:
            midway = _snapshot()
    return {"packets": len(packets), "flowgraphs": -(-len(packets) // batch),
            "delivered_intact": delivered, "midway": midway}


def zmq(packets: list, batch: int, timeout_s: float) -> dict:
    """The packets from a PUSH sender to ``tokencom rx``'s flowgraph (the
    checking PULL source, the OFDM receiver), bursts counted as they come."""
    sender = ZmqIqSender("tcp://127.0.0.1:0", drain_timeout_s=timeout_s)
    receiver = RxFlowgraph(make_pull_source(sender.endpoint), load_profile("zmq"))
    sent, delivered, intact = set(packets), 0, 0

    def take_bursts(wait_s: float = 0.0) -> None:
        nonlocal delivered, intact
        try:
            while True:
                burst, _ = receiver.collector.queue.get(timeout=wait_s)
                delivered += 1
                intact += burst.data in sent
        except queue.Empty:
            pass

    midway = None
    receiver.start()
    try:
        for start in range(0, len(packets), batch):
            sender.send(modulate(packets[start:start + batch], MCS))
            take_bursts()
            if midway is None and start + batch >= len(packets) // 2:
                midway = _snapshot()
        # Trailing silence: the receiver's last burst needs samples after it.
        sender.send(np.zeros(50_000, dtype=np.complex64))
        sender.close()
        deadline = time.monotonic() + timeout_s
        while delivered < len(packets) and time.monotonic() < deadline:
            take_bursts(wait_s=0.1)
    finally:
        receiver.stop()
        receiver.wait()
    take_bursts()
    return {"packets": len(packets), "endpoint": sender.endpoint, "delivered_intact": intact,
            "samples_sent": sender.samples_sent, **receiver.source.input_problems(),
            "midway": midway}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--packets", type=int, default=10_000, help="packets per part")
    parser.add_argument("--rebuilds", type=int, default=100,
                        help="in-process tokencom tx --radio loopback runs")
    parser.add_argument("--batch", type=int, default=500,
                        help="packets per loopback flowgraph and per ZMQ send")
    parser.add_argument("--size", type=int, default=100, help="bytes per packet")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds the ZMQ receiver may take after the last send")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.packets < 1 or args.batch < 1 or args.rebuilds < 0:
        parser.error("--packets and --batch must be >= 1, --rebuilds >= 0")

    packets = random_packets(args.packets, args.size, seed=16)
    process_start = _snapshot()
    _loopback_tx_once()  # warm-up: models, code tables and FFT plans load once
    report = {
        "bench": "soak", "mcs": MCS, "snr_db": SNR_DB, "packet_bytes": args.size,
        "host": platform.node(), "python": platform.python_version(),
        "process_start": process_start,
        "rebuilds": _part(lambda: rebuilds(args.rebuilds)),
        "loopback": _part(lambda: loopback(packets, args.batch)),
        "zmq": _part(lambda: zmq(packets, args.batch, args.timeout)),
        "process_end": _snapshot(),
    }
    emit_json(report, args.json)
    intact = all(report[part]["delivered_intact"] == args.packets for part in ("loopback", "zmq"))
    return 0 if intact and report["rebuilds"]["exact"] == args.rebuilds else 1


if __name__ == "__main__":
    sys.exit(main())
