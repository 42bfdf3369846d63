"""Streaming receiver application: a radio (or ZMQ, or a recording) -> OFDM
RX -> the receiver library -> one report per message.

The flowgraph (:class:`RxFlowgraph`) is

    source -> [software channel] -> OfdmBurstRx -> BurstCollector
                                 \\-> [SigMF data file]

and the main thread (:func:`run_receiver`) takes the received bursts off the
collector's queue and gives them to a
:class:`~tokencom_sdr.link.receiver.StreamReceiver`: the one message
assembler and the one receiver (soft reassembly, re-decoding of failed
codewords, context recovery) that the loopback and the GRC decoder blocks
use too. Each message it delivers is printed with live statistics (packets,
token error rate before and after recovery, SNR, CFO) and becomes a report
(:func:`~tokencom_sdr.app.rx_report.message_report`).

The receiver stops on Ctrl-C (SIGINT; a second one aborts), after ``count``
messages, after ``duration_s`` seconds, or at the end of a finite source
(a replayed recording). On every stop the pending messages are delivered,
the JSON is written and the SigMF metadata are completed.
"""

from __future__ import annotations

import collections
import dataclasses
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, TextIO

from gnuradio import blocks, gr

from ..context.modes import DEFAULT_IMAGE_RECOVERY, DEFAULT_TEXT_RECOVERY
from ..link.errors import PacketError
from ..link.packet import parse_packet
from ..link.receiver import ReceivedMessage, StreamReceiver, TokenReceiver
from ..phy.burst_mapping import burst_length
from ..phy.ofdm_params import OfdmParams
from ..phy.ofdm_rx import OfdmBurstRx
from ..phy.received_burst import ReceivedBurst
from ..radio.sigmf_file import PacketAnnotation, recording_paths, write_metadata
from .rx_report import Expected, format_report, message_report, save_message, write_json

__all__ = ["BurstCollector", "RxFlowgraph", "RxOptions", "run_receiver"]


class BurstCollector:
    """Called by the burst decoder with every :class:`ReceivedBurst`; puts
    ``(burst, arrival time)`` on :attr:`queue` for the main thread.

    A direct callback rather than a message connection: at the end of a
    finite run (a replay) GNU Radio can stop a message block before its
    queue has drained, losing the last packets; and no PMT round trip.
    """

    def __init__(self):
        self.queue: "queue.Queue" = queue.Queue()

    def __call__(self, burst: ReceivedBurst) -> None:
        self.queue.put((burst, time.monotonic()))


class RxFlowgraph(gr.top_block):
    """source -> [channel] -> OFDM RX -> :class:`BurstCollector`, plus a raw
    ``cf32_le`` recording of what the receiver sees when ``record_path`` is given.

    Parameters
    ----------
    source : gr block
        Any ``complex64`` source (radio, ZMQ pull, a recording).
    profile : RadioProfile
        Gives the sync threshold and the gap (the MCS comes in each header).
    channel : gr block, optional
        Software impairments applied before the receiver (and the recording).
    record_path : path, optional
        ``NAME.sigmf-data`` to write.
    """

    def __init__(self, source, profile, channel=None, record_path: Optional[Path] = None):
        gr.top_block.__init__(self, "tokencom_radio_rx", catch_exceptions=False)
        self.source = source
        self.channel = channel
        self.params = OfdmParams(gap_len=profile.gap_len)
        self.rx = OfdmBurstRx(profile.sync_threshold, self.params)
        self.collector = BurstCollector()
        self.rx.decoder.listeners.append(self.collector)
        head = source
        if channel is not None:
            self.connect(source, channel)
            head = channel
        self.connect(head, self.rx)
        self.recorder = None
        if record_path is not None:
            data_path, _ = recording_paths(record_path)
            data_path.parent.mkdir(parents=True, exist_ok=True)
            self.recorder = blocks.file_sink(gr.sizeof_gr_complex, str(data_path), False)
            self.recorder.set_unbuffered(False)
            self.connect(head, self.recorder)


@dataclasses.dataclass
class RxOptions:
    """How long to run, how to recover, and where the results go.

    Attributes
    ----------
    count : int, optional
        Stop after this many messages.
    duration_s : float, optional
        Stop after this many seconds.
    json_path, out_dir, record_path : Path, optional
        JSON list of reports; a folder for each message's text or image
        (received and recovered); ``NAME.sigmf-data`` to record the received
        IQ into.
    expected : Expected, optional
        The transmitted text or image, if known, for scoring.
    text_recovery, image_recovery : str
        Recovery modes (:mod:`tokencom_sdr.context.modes`); the defaults are the best.
    stream : file
        Where messages and stats are printed (stdout).
    """

    count: Optional[int] = None
    duration_s: Optional[float] = None
    json_path: Optional[Path] = None
    out_dir: Optional[Path] = None
    record_path: Optional[Path] = None
    expected: Optional[Expected] = None
    text_recovery: str = DEFAULT_TEXT_RECOVERY
    image_recovery: str = DEFAULT_IMAGE_RECOVERY
    stream: TextIO = sys.stdout


def _annotation(burst: ReceivedBurst, params: OfdmParams, sample_rate_hz: float
                ) -> Optional[PacketAnnotation]:
    """SigMF annotation of one received burst (None if it was not located)."""
    if burst.start_sample is None:
        return None
    length = burst_length(len(burst.data), burst.mcs, params) - params.gap_len \
        if burst.mcs else 0
    cfo_hz = None if burst.cfo is None else burst.cfo * sample_rate_hz
    try:
        packet = parse_packet(burst.data)
    except PacketError:
        return PacketAnnotation(burst.start_sample, length, False, burst.snr_db, cfo_hz,
                                mcs=burst.mcs, fec_ok=burst.fec_ok)
    return PacketAnnotation(burst.start_sample, length, True, burst.snr_db, cfo_hz,
                            packet.message_id, packet.seq, burst.mcs, burst.fec_ok)


def run_receiver(flowgraph: RxFlowgraph, profile, options: RxOptions, finite: bool = False,
                 config: Optional[dict] = None,
                 on_report: Optional[Callable[[dict], None]] = None,
                 receiver: Optional[TokenReceiver] = None) -> List[dict]:
    """Run ``flowgraph`` until a stop condition and handle every message.

    Parameters
    ----------
    finite : bool
        The source ends by itself (a recording): stop when it has.
    on_report : callable, optional
        Called with each report as it is delivered (after printing).
    receiver : TokenReceiver, optional
        Default: one with ``options``' recovery modes.

    Returns
    -------
    list of dict
        The reports, in delivery order (at most ``options.count``).
    """
    receiver = receiver or TokenReceiver(options.text_recovery, options.image_recovery)
    stream = StreamReceiver(receiver, profile.message_timeout_s)
    expected = options.expected or Expected()
    if expected.text is not None and expected.text_tokenizer is None:
        expected = dataclasses.replace(expected, text_tokenizer=receiver.text_tokenizer)
    params = flowgraph.params
    annotations: List[PacketAnnotation] = []
    totals = collections.Counter(messages=0, packets_received=0, packets_expected=0,
                                 bursts_failed=0, packets_redecoded=0)
    reports: List[dict] = []
    stop = threading.Event()
    previous_handler = _install_sigint(stop)
    started = time.monotonic()
    finished = threading.Event()
    if options.out_dir:
        options.out_dir.mkdir(parents=True, exist_ok=True)

    def handle(messages: Sequence[ReceivedMessage]) -> None:
        for message in messages:
            if options.count is not None and len(reports) >= options.count:
                return
            now = time.monotonic()
            report = message_report(message, profile.sample_rate_hz, profile.gap_len, expected,
                                    config, now - first_arrival.pop(message.message_id, now))
            totals.update(messages=1, packets_received=message.packets_received,
                          packets_expected=message.packets_expected,
                          bursts_failed=message.bursts_failed,
                          packets_redecoded=message.packets_redecoded)
            reports.append(report)
            # A source that checks its input (ZMQ) says what it refused; the
            # receiver zeroes what non-finite samples still come.
            problems = dict(getattr(flowgraph.source, "input_problems", dict)())
            problems["samples_zeroed"] = (problems.get("samples_zeroed", 0)
                                          + flowgraph.rx.samples_zeroed)
            for key, count in problems.items():  # (totals so far: assigned, not added)
                totals[key] = count
            print(format_report(report, totals), file=options.stream, flush=True)
            if options.out_dir:
                save_message(options.out_dir, report, message)
            if options.json_path:
                write_json(options.json_path, reports)
            if on_report:
                on_report(report)

    first_arrival: dict = {}  # message id -> arrival of its first CRC-good packet

    def push(burst: ReceivedBurst, arrived: float) -> None:
        note = _annotation(burst, params, profile.sample_rate_hz)
        if note is not None:
            annotations.append(note)
            if note.message_id is not None:
                first_arrival.setdefault(note.message_id, arrived)
        handle(stream.push(burst, arrived))

    collector = flowgraph.collector
    flowgraph.start()
    if finite:
        threading.Thread(target=lambda: (flowgraph.wait(), finished.set()), daemon=True).start()
    try:
        while True:
            # Every burst that arrived before `now` is pushed before messages
            # are timed out at `now`: a slow recovery must not time out a
            # message whose packets wait in the queue.
            now = time.monotonic()
            try:
                push(*collector.queue.get(timeout=0.05))
                while True:
                    push(*collector.queue.get_nowait())
            except queue.Empty:
                pass
            if not finite:
                # A recording plays as fast as the CPU allows: there, wall-clock
                # silence means nothing, and messages end when the next starts
                # or the recording does, grouped exactly as in the live run.
                handle(stream.expire(now))
            if options.count is not None and len(reports) >= options.count:
                break
            if stop.is_set():
                print("stopping (Ctrl-C)", file=sys.stderr, flush=True)
                break
            if options.duration_s is not None and time.monotonic() - started >= options.duration_s:
                break
            if finite and finished.is_set() and collector.queue.empty():
                break
    finally:
        flowgraph.stop()
        flowgraph.wait()
        _restore_sigint(previous_handler)
    while not collector.queue.empty():
        push(*collector.queue.get_nowait())
    handle(stream.flush("end of stream" if finite and finished.is_set() else "stopped"))
    if options.json_path:
        write_json(options.json_path, reports)
    if flowgraph.recorder is not None:
        flowgraph.recorder.close()
        # The MCS the bursts said they used (each annotation has its own).
        seen = collections.Counter(n.mcs for n in annotations if n.mcs)
        mcs = seen.most_common(1)[0][0] if seen else profile.mcs
        write_metadata(options.record_path, sample_rate_hz=profile.sample_rate_hz,
                       center_freq_hz=profile.center_freq_hz, hardware=profile.hardware_label(),
                       annotations=annotations, mcs=mcs,
                       sync_threshold=profile.sync_threshold, direction="rx")
    flowgraph.annotations = annotations
    flowgraph.counters = dict(stream.counters)
    return reports


def _install_sigint(stop: threading.Event):
    """First Ctrl-C sets ``stop`` (clean shutdown); a second one aborts.
    Only possible from the main thread; elsewhere nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    return (previous,)


def _restore_sigint(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous[0])
