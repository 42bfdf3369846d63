#!/usr/bin/env python3
"""Wrong accepts at low SNR: token packets through the real GNU Radio chain
where many of them fail, and how many come out CRC-good but not as sent.

Each point (``--point MCS:SNR[:PACKETS]``) sends ``PACKETS`` (else ``--packets``) real link-layer packets
(random text frames, packetized with the interleaved aggregation, so every
packet carries the CRC-32) through ``run_phy_loopback`` (OFDM TX -> AWGN
loopback channel -> OFDM RX), ``--chunk`` packets per flowgraph with a new
noise seed each. For every burst the receiver delivers it counts:

- ``bursts_with_errors``: the bytes differ from every packet sent (what the
  CRC-32 and the header checks must refuse);
- ``phy_fec_ok`` / ``phy_fec_ok_wrong`` (coded MCSs; null for uncoded ones,
  which have no FEC verdict): the LDPC decoder converged, and of those, the
  bytes differ from every packet sent (a false convergence);
- ``link_accepted``: ``parse_packet`` accepts the bytes (CRC-32 and every
  header field check);
- ``wrong_accepts``: accepted, but the bytes are not a packet that was sent.
  This must be 0.

Prints one JSON object (and rewrites ``--json`` after every point, so a
long run stopped early keeps what it measured).

    nice -n 10 .venv/bin/python bench/low_snr_wrong_accepts.py --packets 20000 \\
        --point qpsk-1/2:1 --point bpsk:4 --json docs/results/wrong_accepts/low_snr.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from json_report import emit_json  # bench/, first on sys.path when a bench runs
from tqdm import tqdm

from tokencom_sdr.channel.loopback_channel import LoopbackChannel
from tokencom_sdr.link import PacketError, make_aggregation, packetize, parse_packet
from tokencom_sdr.phy.mcs import get_mcs
from tokencom_sdr.phy.modem import run_phy_loopback
from tokencom_sdr.tokens.frame import Modality, TokenFrame

BITS_PER_TOKEN = 16
FRAME_TOKENS = 480
TOKENS_PER_PACKET = 48


def token_packets(count: int, seed: int) -> list:
    """``count`` distinct encoded packets: random 16-bit text frames of 480
    tokens, 10 packets of 48 tokens each (about 120 bytes), message ids
    counting up."""
    rng = np.random.default_rng(seed)
    aggregation = make_aggregation("interleaved", TOKENS_PER_PACKET)
    packets = []
    message_id = 0
    while len(packets) < count:
        ids = rng.integers(0, 2 ** BITS_PER_TOKEN, FRAME_TOKENS)
        frame = TokenFrame(ids, Modality.TEXT, (FRAME_TOKENS,), BITS_PER_TOKEN)
        packets += packetize(frame, message_id % 65536, aggregation)
        message_id += 1
    return packets[:count]


def measure_point(mcs: str, snr_db: float, packets: int, chunk: int, seed: int) -> dict:
    """Send ``packets`` packets at one (MCS, SNR); the counts described above."""
    coded = get_mcs(mcs).code != "none"
    counts = dict(mcs=mcs, snr_db=snr_db, packets_sent=0, bursts_delivered=0,
                  bursts_with_errors=0, phy_fec_ok=0 if coded else None,
                  phy_fec_ok_wrong=0 if coded else None, link_accepted=0, link_accepted_exact=0,
                  wrong_accepts=0)
    start = time.perf_counter()
    chunks = range(0, packets, chunk)
    for i, first in enumerate(tqdm(chunks, desc=f"{mcs} {snr_db:g} dB", file=sys.stderr)):
        sent = token_packets(min(chunk, packets - first), seed * 100003 + first)
        sent_set = set(sent)
        channel = LoopbackChannel(snr_db, seed=seed * 100003 + i + 1)
        result = run_phy_loopback(sent, mcs, channel)
        counts["packets_sent"] += len(sent)
        for burst in result.received:
            counts["bursts_delivered"] += 1
            counts["bursts_with_errors"] += burst.data not in sent_set
            if coded and burst.fec_ok:
                counts["phy_fec_ok"] += 1
                counts["phy_fec_ok_wrong"] += burst.data not in sent_set
            try:
                parse_packet(burst.data)
            except PacketError:
                continue
            counts["link_accepted"] += 1
            if burst.data in sent_set:
                counts["link_accepted_exact"] += 1
            else:
                counts["wrong_accepts"] += 1
    counts["packet_error_rate"] = round(1 - counts["link_accepted_exact"] / counts["packets_sent"], 4)
    counts["seconds"] = round(time.perf_counter() - start, 1)
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--point", action="append", required=True, metavar="MCS:SNR[:PACKETS]",
                        help="an MCS, an SNR in dB and optionally its packet count; repeat for "
                             "more points")
    parser.add_argument("--packets", type=int, default=20000, help="packets per point")
    parser.add_argument("--chunk", type=int, default=1000, help="packets per flowgraph run")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    points = []
    for text in args.point:
        mcs, snr, packets = (text.split(":") + [str(args.packets)])[:3]
        get_mcs(mcs)  # a clear error for an unknown MCS before anything runs
        points.append((mcs, float(snr), int(packets)))
    rows = []
    for mcs, snr, packets in points:
        rows.append(measure_point(mcs, snr, packets, args.chunk, args.seed))
        if args.json:  # kept after every point
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(_report(rows, argv), indent=2) + "\n")
    report = _report(rows, argv)
    emit_json(report, args.json)
    return 1 if report["wrong_accepts"] else 0


def _report(rows, argv) -> dict:
    """The totals over ``rows`` (the points measured so far) and the rows."""
    return {"packets_sent": sum(r["packets_sent"] for r in rows),
            "bursts_delivered": sum(r["bursts_delivered"] for r in rows),
            "bursts_with_errors": sum(r["bursts_with_errors"] for r in rows),
            "link_rejected": sum(r["bursts_delivered"] - r["link_accepted"] for r in rows),
            "wrong_accepts": sum(r["wrong_accepts"] for r in rows),
            "points": rows,
            "command": "bench/low_snr_wrong_accepts.py " + " ".join(argv or sys.argv[1:])}


if __name__ == "__main__":
    sys.exit(main())
