#!/usr/bin/env python3
"""Noise-only run of the receiver: how often it triggers, and that nothing
gets through.

Feeds ``--seconds`` of complex Gaussian noise at ``--sample-rate`` (what a
radio with no transmitter in range delivers) into ``OfdmBurstRx`` at its
detection threshold and counts sync triggers, headers that passed their
CRC-16, PDUs delivered by the PHY, and PDUs the link layer accepts (must be
0). Prints one JSON object.

    .venv/bin/python bench/noise_only.py --seconds 10 --json out/noise_only.json
"""

import argparse
import sys
import time
from pathlib import Path

from gnuradio import analog, blocks, gr
from json_report import emit_json  # bench/, first on sys.path when a bench runs

from tokencom_sdr.link import PacketError, parse_packet
from tokencom_sdr.phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD, OfdmBurstRx


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sample-rate", type=float, default=2.084e6,
                        help="Pluto's lowest rate without decimation")
    parser.add_argument("--sync-threshold", type=float, default=DEFAULT_SYNC_THRESHOLD)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    n_samples = int(args.seconds * args.sample_rate)
    tb = gr.top_block("noise_only", catch_exceptions=False)
    tb.noise = analog.fastnoise_source_c(analog.GR_GAUSSIAN, 1.0, 7, 1 << 16)
    tb.head = blocks.head(gr.sizeof_gr_complex, n_samples)
    tb.rx = OfdmBurstRx(args.sync_threshold)
    pdus = []
    tb.rx.decoder.listeners.append(pdus.append)
    tb.connect(tb.noise, tb.head, tb.rx)
    start = time.perf_counter()
    tb.run()
    elapsed = time.perf_counter() - start

    accepted = 0
    for pdu in pdus:
        try:
            parse_packet(pdu.data)
            accepted += 1
        except PacketError:
            pass
    header = tb.rx.decoder
    result = {
        "seconds_of_air": args.seconds,
        "sample_rate": args.sample_rate,
        "sync_threshold": args.sync_threshold,
        "sync_triggers": header.headers_ok + header.headers_failed,
        "headers_passed_crc": header.headers_ok,
        "pdus_from_phy": len(pdus),
        "packets_accepted_by_link": accepted,
        "processing_speed_sps": n_samples / elapsed,
    }
    emit_json(result, args.json, indent=1)
    return 0 if accepted == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
