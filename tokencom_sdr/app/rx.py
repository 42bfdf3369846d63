"""Streaming receiver: radio (or ZMQ, or a recording) -> OFDM RX -> messages.

The flowgraph (:class:`RxFlowgraph`) is

    source -> [software channel] -> InstrumentedOfdmRx -> PDU queue
                                 \\-> [SigMF data file]

and the main thread (:func:`run_receiver`) takes PDUs off the queue,
checks them with the link layer, groups them into messages
(:class:`MessageAssembler`) and prints each message as soon as it is
complete, with live statistics: packets, packet error rate, and the SNR and
carrier-frequency-offset estimates of its packets.

The SNR and CFO are the PHY's per-packet estimates (``snr_db``, ``cfo`` in
each PDU's metadata); the burst's position in the stream comes from
:class:`~tokencom_sdr.phy.burst_locator.BurstLocator`.

A message is delivered when all its packets have arrived, when packets of
another message start arriving, when ``message_timeout_s`` passes without a
packet of it, or when the receiver stops. Each delivered message becomes a
report with the keys of ``tokencom loopback``'s JSON (see
:meth:`MessageAssembler.report`) plus ``message_id``, ``cfo_hz``, ``cfo`` and
``reason``.

The receiver stops on Ctrl-C (SIGINT; a second one aborts), after ``count``
messages, after ``duration_s`` seconds, or at the end of a finite source
(a replayed recording). On every stop the pending messages are delivered,
the JSON is written and the SigMF metadata are completed.
"""

import collections
import dataclasses
import datetime as _dt
import json
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, TextIO

import numpy as np
import pmt
from gnuradio import blocks, gr

from ..channel.loopback_channel import LoopbackChannel
from ..link import depacketize, parse_packet
from ..link.errors import PacketError, ReassemblyError
from ..phy.burst_mapping import burst_length
from ..phy.ofdm_params import OfdmParams
from ..phy.burst_locator import InstrumentedOfdmRx, pdu_key
from ..radio.profile import RadioProfile
from ..radio.sigmf_file import PacketAnnotation, recording_paths, write_metadata
from ..tokens.frame import Modality

#: Zeros played after a finite source, so the receiver's pipeline lets go of
#: the last frame (a finite run otherwise loses it).
FLUSH_TAIL = 4096
_RECENT_IDS = 64


class ArraySource(gr.sync_block):
    """Play a sample array (e.g. a memory-mapped recording) once, then
    ``tail`` zeros, then end the stream.

    Output: ``complex64``. Copies per buffer with numpy.
    """

    def __init__(self, samples: np.ndarray, tail: int = FLUSH_TAIL):
        gr.sync_block.__init__(self, name="tokencom_array_source", in_sig=None,
                               out_sig=[np.complex64])
        self.samples = samples
        self.total = len(samples) + int(tail)
        self.position = 0

    def work(self, input_items, output_items):
        out = output_items[0]
        if self.position >= self.total:
            return -1  # WORK_DONE
        n = min(len(out), self.total - self.position)
        have = max(0, min(n, len(self.samples) - self.position))
        if have:
            out[:have] = self.samples[self.position:self.position + have]
        out[have:n] = 0
        self.position += n
        return n


class PduCollector:
    """Called by the payload decoder with every PDU it publishes; puts
    ``(bytes, meta dict, arrival time)`` on :attr:`queue` for the main thread.

    A direct callback rather than a message connection: at the end of a
    finite run (a replay) GNU Radio can stop a message block before its queue
    has drained, losing the last packets. The per-bit LLRs are left out of
    the metadata (the reports do not use them).
    """

    def __init__(self):
        self.queue: "queue.Queue" = queue.Queue()

    def __call__(self, msg) -> None:
        meta = pmt.car(msg)
        data = bytes(pmt.u8vector_elements(pmt.cdr(msg)))
        out = {}
        if pmt.is_dict(meta):
            items = pmt.dict_items(meta)
            for i in range(pmt.length(items)):
                item = pmt.nth(i, items)
                key = pmt.symbol_to_string(pmt.car(item))
                if key not in ("bit_llr", "code_llr"):
                    out[key] = pmt.to_python(pmt.cdr(item))
        self.queue.put((data, out, time.monotonic()))


class RxFlowgraph(gr.top_block):
    """source -> [channel] -> OFDM RX (with a burst locator) ->
    :class:`PduCollector`, plus a raw ``cf32_le`` recording of what the
    receiver sees when ``record_path`` is given.

    Parameters
    ----------
    source : gr block
        Any ``complex64`` source (radio, ZMQ pull, :class:`ArraySource`).
    profile : RadioProfile
        Gives the sync threshold and the gap (the MCS comes in each header).
    channel : LoopbackChannel, optional
        Software impairments applied before the receiver (and the recording).
    record_path : path, optional
        ``NAME.sigmf-data`` to write.
    """

    def __init__(self, source, profile: RadioProfile, channel: Optional[LoopbackChannel] = None,
                 record_path: Optional[Path] = None):
        gr.top_block.__init__(self, "tokencom_radio_rx", catch_exceptions=False)
        self.source = source
        self.channel = channel
        self.params = OfdmParams(gap_len=profile.gap_len)
        self.rx = InstrumentedOfdmRx(profile.sync_threshold, self.params)
        self.collector = PduCollector()
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
class _Pending:
    message_id: int
    num_packets: int
    modality: Modality
    packets: Dict[int, bytes] = dataclasses.field(default_factory=dict)
    snr_lin: List[float] = dataclasses.field(default_factory=list)
    cfo: List[float] = dataclasses.field(default_factory=list)
    first_start: Optional[int] = None
    last_end: Optional[int] = None
    first_time: float = 0.0
    last_time: float = 0.0
    rejected: int = 0
    mcs: Optional[str] = None


class MessageAssembler:
    """Group checked packets into messages and turn each into a report.

    Not a GNU Radio block: the receiver's main thread feeds it PDUs with
    :meth:`add` and asks for timed-out messages with :meth:`expire`.

    Parameters
    ----------
    profile : RadioProfile
        For the sample rate (Hz figures), the gap (burst lengths) and
        ``message_timeout_s``.
    expect_text : str, optional
        The text the TX sends, if known: reports then carry
        ``token_error_rate``, ``exact`` and ``sent_text``.
    config : dict, optional
        Put in every report under ``config``.

    Attributes
    ----------
    annotations : list of PacketAnnotation
        One per PDU that carried a preamble measurement, for SigMF.
    totals : dict
        ``messages``, ``pdus``, ``pdus_rejected``, ``fec_failures``,
        ``packets_received``, ``packets_expected``, ``packets_late``.
    """

    def __init__(self, profile: RadioProfile, expect_text: Optional[str] = None,
                 config: Optional[dict] = None):
        self.profile = profile
        self.params = OfdmParams(gap_len=profile.gap_len)
        self.timeout_s = profile.message_timeout_s
        self.expect_text = expect_text
        self.config = config or {}
        self.annotations: List[PacketAnnotation] = []
        self.totals = {"messages": 0, "pdus": 0, "pdus_rejected": 0, "fec_failures": 0,
                       "packets_received": 0, "packets_expected": 0, "packets_late": 0}
        self._pending: Dict[int, _Pending] = {}
        self._recent: List[int] = []
        self._rejected_unassigned = 0
        self._text_tokenizer = None
        self._image_tokenizer = None
        self._expected_ids = None
        #: Images of image messages, by report index (when decoded).
        self.images: Dict[int, np.ndarray] = {}

    # -------------------------------------------------------------- input
    def add(self, data: bytes, meta: Dict[str, object], now: float,
            start: Optional[int] = None) -> List[dict]:
        """Take one PDU from the PHY; return the reports it completes.

        ``meta`` is the PHY's metadata (``snr_db``, ``cfo``, ``mcs``,
        ``fec_ok``); ``start`` the burst's first sample, if located.
        """
        self.totals["pdus"] += 1
        snr_db = _number(meta.get("snr_db"))
        cfo = _number(meta.get("cfo"))
        mcs = str(meta.get("mcs") or self.profile.mcs)
        fec_ok = meta.get("fec_ok")
        if fec_ok is False:
            self.totals["fec_failures"] += 1
        length = burst_length(len(data), mcs, self.params) - self.params.gap_len
        cfo_hz = None if cfo is None else cfo * self.profile.sample_rate_hz
        try:
            packet = parse_packet(data)
        except PacketError:
            self.totals["pdus_rejected"] += 1
            if self._pending:
                list(self._pending.values())[-1].rejected += 1
            else:
                self._rejected_unassigned += 1
            if start is not None:
                self.annotations.append(PacketAnnotation(start, length, False, snr_db, cfo_hz,
                                                         mcs=mcs, fec_ok=fec_ok))
            return []
        if start is not None:
            self.annotations.append(PacketAnnotation(start, length, True, snr_db, cfo_hz,
                                                     packet.message_id, packet.seq, mcs, fec_ok))
        reports = []
        mid = packet.message_id
        if mid in self._recent and mid not in self._pending:
            self.totals["packets_late"] += 1
            return []
        # Packets of a new message: the ones pending before it are done.
        if mid not in self._pending:
            for other in list(self._pending):
                reports.append(self._deliver(other, "superseded"))
            self._pending[mid] = _Pending(mid, packet.num_packets, packet.modality,
                                          first_time=now, rejected=self._rejected_unassigned)
            self._rejected_unassigned = 0
        pending = self._pending[mid]
        if packet.seq not in pending.packets:
            pending.packets[packet.seq] = bytes(data)
            if snr_db is not None:
                pending.snr_lin.append(10.0 ** (min(snr_db, 100.0) / 10.0))
            if cfo is not None:
                pending.cfo.append(cfo)
            pending.mcs = mcs
            if start is not None:
                end = start + length + self.params.gap_len
                pending.first_start = start if pending.first_start is None else \
                    min(pending.first_start, start)
                pending.last_end = end if pending.last_end is None else max(pending.last_end, end)
        pending.last_time = now
        if len(pending.packets) >= pending.num_packets:
            reports.append(self._deliver(mid, "complete"))
        return reports

    def expire(self, now: float) -> List[dict]:
        """Reports of messages with no new packet for ``message_timeout_s``."""
        return [self._deliver(mid, "timeout") for mid, p in list(self._pending.items())
                if now - p.last_time >= self.timeout_s]

    def flush(self, reason: str = "stopped") -> List[dict]:
        """Reports of every pending message (the receiver is stopping)."""
        return [self._deliver(mid, reason) for mid in list(self._pending)]

    # -------------------------------------------------------------- output
    def _deliver(self, mid: int, reason: str) -> dict:
        pending = self._pending.pop(mid)
        self._recent.append(mid)
        del self._recent[:-_RECENT_IDS]
        report = self.report(pending, reason)
        self.totals["messages"] += 1
        self.totals["packets_received"] += report["packets_received"]
        self.totals["packets_expected"] += report["packets_sent"]
        return report

    def report(self, pending: _Pending, reason: str) -> dict:
        """The JSON object of one message (keys of ``tokencom loopback`` first)."""
        t0 = time.perf_counter()
        try:
            result = depacketize(list(pending.packets.values()), pending.message_id)
        except ReassemblyError:
            # Every packet conflicted with another (e.g. two transmitters
            # reusing a message id): nothing trustworthy to show.
            result = depacketize([], pending.message_id, expected=self._geometry(pending))
        frame = result.frame
        text = None
        image = None
        if frame.modality == Modality.TEXT:
            text = self._text().decode_frame(frame)
        else:
            image = self._decode_image(frame)
        decode_s = time.perf_counter() - t0
        stats = result.stats
        snr_db = float(10 * np.log10(np.mean(pending.snr_lin))) if pending.snr_lin else None
        cfo = float(np.mean(pending.cfo)) if pending.cfo else None
        channel_uses = None
        if pending.first_start is not None and pending.last_end is not None:
            channel_uses = int(pending.last_end - pending.first_start)
        ter, exact = None, None
        if self.expect_text is not None and frame.modality == Modality.TEXT:
            expected = self._expected()
            exact = text == self.expect_text
            if len(expected) == len(frame):
                wrong = frame.erased | (frame.ids != expected)
                ter = float(np.mean(wrong)) if len(frame) else 0.0
        payload_bytes = len((self.expect_text if self.expect_text is not None else text or "")
                            .encode("utf-8"))
        report = {
            "modality": frame.modality.name.lower(),
            "snr_db": snr_db,
            "tokens_sent": len(frame),
            "token_error_rate": ter,
            "token_erasure_rate": float(np.mean(frame.erased)) if len(frame) else 0.0,
            "packets_sent": pending.num_packets,
            "packets_received": stats.packets_received,
            "packet_error_rate": 1.0 - stats.packets_received / pending.num_packets,
            "pdus_rejected": pending.rejected,
            "channel_uses": channel_uses,
            "bits_per_channel_use": (8 * payload_bytes / channel_uses
                                     if channel_uses and frame.modality == Modality.TEXT else None),
            "exact": exact,
            # The live receiver reports the link layer as it is: no context
            # recovery (yet), so "after" equals "before".
            "recovery": "none",
            "token_error_rate_raw": ter,
            "semantic_similarity": None,
            "failed_packets_used": 0,
            "context_decoding": None,
            "sent_text": self.expect_text,
            "received_text": text,
            "received_text_raw": text,
            "recovery_s": 0.0,
            "latency_s": {"encode": None, "phy": pending.last_time - pending.first_time,
                          "decode": decode_s},
            "config": self.config,
            "message_id": pending.message_id,
            "mcs": pending.mcs,
            "cfo": cfo,
            "cfo_hz": None if cfo is None else cfo * self.profile.sample_rate_hz,
            "reason": reason,
            "first_sample": pending.first_start,
            "received_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
        }
        if image is not None:
            report["image_shape"] = list(image.shape)
            self.images[id(report)] = image
        return report

    @staticmethod
    def _geometry(pending: _Pending):
        from ..link import FrameGeometry

        packet = parse_packet(next(iter(pending.packets.values())))
        return FrameGeometry(packet.modality, packet.frame_shape, packet.bits_per_token,
                             packet.num_packets)

    def _text(self):
        if self._text_tokenizer is None:
            from ..tokens.text_bpe import TextTokenizer

            self._text_tokenizer = TextTokenizer.default()
        return self._text_tokenizer

    def _expected(self) -> np.ndarray:
        if self._expected_ids is None:
            self._expected_ids = np.asarray(self._text().encode(self.expect_text), dtype=np.int64)
        return self._expected_ids

    def _decode_image(self, frame) -> Optional[np.ndarray]:
        """Decode an image frame with the default VQ tokenizer, if it loads."""
        try:
            if self._image_tokenizer is None:
                from ..tokens.image_vq import ImageTokenizer

                self._image_tokenizer = ImageTokenizer.default()
            return self._image_tokenizer.decode_frame(frame)
        except (ImportError, ValueError, OSError) as error:
            print(f"tokencom rx: cannot draw the image ({error}); saving its tokens only",
                  file=sys.stderr)
            return None


def _number(value) -> Optional[float]:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def format_report(report: dict, totals: dict) -> str:
    """Text printed for one delivered message: the content, then the stats."""
    lines = []
    if report["modality"] == "text":
        lines.append(report["received_text"])
    else:
        lines.append(f"[image: {report['tokens_sent']} tokens"
                     + (f", drawn {report['image_shape'][1]}x{report['image_shape'][0]}"
                        if report.get("image_shape") else "") + "]")
    snr = "n/a" if report["snr_db"] is None else f"{min(report['snr_db'], 99.9):.1f} dB"
    cfo = "n/a" if report["cfo_hz"] is None else \
        f"{report['cfo_hz'] / 1e3:+.2f} kHz ({report['cfo']:+.5f} fs)"
    erased = report["token_erasure_rate"]
    stats = (f"[message {report['message_id']}] packets {report['packets_received']}/"
             f"{report['packets_sent']} (PER {report['packet_error_rate']:.3f}) | tokens "
             f"{report['tokens_sent']} ({erased:.1%} erased) | {report['mcs']} | SNR {snr} | "
             f"CFO {cfo} | {report['reason']}")
    if report["exact"] is not None:
        stats += f" | exact {report['exact']}"
    expected = totals["packets_expected"]
    per = 1.0 - totals["packets_received"] / expected if expected else 0.0
    stats += (f"\n[total] {totals['messages']} messages, packets {totals['packets_received']}/"
              f"{expected} (PER {per:.3f}), {totals['pdus_rejected']} PDUs failed the CRC, "
              f"{totals['fec_failures']} the FEC")
    lines.append(stats)
    return "\n".join(lines)


@dataclasses.dataclass
class RxOptions:
    """How long to run and where the results go.

    Attributes
    ----------
    count : int, optional
        Stop after this many messages.
    duration_s : float, optional
        Stop after this many seconds.
    json_path, out_dir, record_path : Path, optional
        JSON list of reports; a folder for each message's text or image;
        ``NAME.sigmf-data`` to record the received IQ into.
    expect_text : str, optional
        Known transmitted text, for ``exact`` and the token error rate.
    stream : file
        Where messages and stats are printed (stdout).
    """

    count: Optional[int] = None
    duration_s: Optional[float] = None
    json_path: Optional[Path] = None
    out_dir: Optional[Path] = None
    record_path: Optional[Path] = None
    expect_text: Optional[str] = None
    stream: TextIO = sys.stdout


def make_source(profile: RadioProfile):
    """The ``complex64`` source block of a profile's backend.

    Raises
    ------
    RadioUnavailableError
        The device is missing (Pluto, USRP) or the address is unusable (ZMQ).
    ValueError
        The loopback profile, which has no receiver of its own.
    """
    if profile.backend == "pluto":
        from ..radio.pluto import make_pluto_source

        return make_pluto_source(profile)
    if profile.backend == "usrp":
        from ..radio.usrp import make_usrp_source

        return make_usrp_source(profile)
    if profile.backend == "zmq":
        from ..radio.zmq_radio import make_pull_source

        return make_pull_source(profile.address)
    raise ValueError(f"the {profile.backend} profile has no receiver of its own; run "
                     f"`tokencom tx --radio {profile.name or profile.backend}` (TX, channel and "
                     f"RX in one process) or `tokencom rx --replay FILE.sigmf-meta`")


def run_receiver(flowgraph: RxFlowgraph, profile: RadioProfile, options: RxOptions,
                 finite: bool = False, config: Optional[dict] = None,
                 on_report: Optional[Callable[[dict], None]] = None) -> List[dict]:
    """Run ``flowgraph`` until a stop condition and handle every message.

    Parameters
    ----------
    finite : bool
        The source ends by itself (a recording): stop when it has.
    on_report : callable, optional
        Called with each report as it is delivered (after printing).

    Returns
    -------
    list of dict
        The reports, in delivery order (at most ``options.count``).
    """
    assembler = MessageAssembler(profile, options.expect_text, config)
    reports: List[dict] = []
    stop = threading.Event()
    previous_handler = _install_sigint(stop)
    started = time.monotonic()
    finished = threading.Event()
    if options.out_dir:
        options.out_dir.mkdir(parents=True, exist_ok=True)

    def handle(new_reports: Sequence[dict]) -> None:
        for report in new_reports:
            if options.count is not None and len(reports) >= options.count:
                return
            reports.append(report)
            print(format_report(report, assembler.totals), file=options.stream, flush=True)
            if options.out_dir:
                _save_message(options.out_dir, report, assembler.images.get(id(report)))
            if options.json_path:
                _write_json(options.json_path, reports)
            if on_report:
                on_report(report)

    collector = flowgraph.collector
    locator = flowgraph.rx.locator
    flowgraph.start()
    if finite:
        threading.Thread(target=lambda: (flowgraph.wait(), finished.set()), daemon=True).start()
    try:
        while True:
            try:
                data, meta, arrived = collector.queue.get(timeout=0.05)
            except queue.Empty:
                pass
            else:
                # The locator normally has the burst already; give it a moment
                # if its thread is behind the decoder's.
                start = locator.wait_for(pdu_key(meta), timeout=0.0 if finished.is_set() else 0.5)
                handle(assembler.add(data, meta, arrived, start))
            handle(assembler.expire(time.monotonic()))
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
        data, meta, arrived = collector.queue.get_nowait()
        handle(assembler.add(data, meta, arrived, locator.wait_for(pdu_key(meta))))
    handle(assembler.flush("end of stream" if finite and finished.is_set() else "stopped"))
    if options.json_path:
        _write_json(options.json_path, reports)
    if flowgraph.recorder is not None:
        flowgraph.recorder.close()
        # The MCS the bursts said they used (each annotation has its own).
        seen = collections.Counter(n.mcs for n in assembler.annotations if n.mcs)
        mcs = seen.most_common(1)[0][0] if seen else profile.mcs
        write_metadata(options.record_path, sample_rate_hz=profile.sample_rate_hz,
                       center_freq_hz=profile.center_freq_hz, hardware=profile.hardware_label(),
                       annotations=assembler.annotations, mcs=mcs,
                       sync_threshold=profile.sync_threshold, direction="rx")
    flowgraph.assembler = assembler
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


def _write_json(path: Path, reports: List[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _save_message(folder: Path, report: dict, image: Optional[np.ndarray]) -> None:
    """``message_<id>_<utc>.txt`` for text; ``.png`` for a drawn image."""
    stamp = report["received_at"].replace(":", "").replace("-", "").split(".")[0]
    base = folder / f"message_{report['message_id']:05d}_{stamp}"
    if report["modality"] == "text":
        base.with_suffix(".txt").write_text(report["received_text"], encoding="utf-8")
    elif image is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.imsave(base.with_suffix(".png"), image)
