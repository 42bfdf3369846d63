"""Transmitter: text or image -> tokens -> packets -> OFDM IQ -> a radio.

Each message is modulated on its own (:func:`message_iq`: the PHY's
:func:`~tokencom_sdr.phy.modem.modulate`, which completes the
last burst's gap, times ``tx_amplitude``) and handed to a sink for the
profile's backend:

* ``zmq``: :class:`~tokencom_sdr.radio.zmq_radio.ZmqIqSender` (PUSH); on
  close it waits until the receiver has taken every sample.
* ``pluto``: a flowgraph ``BurstStreamSource -> gr-iio sink``. Each message
  is padded with ``burst_padding`` zeros up to a whole number of IIO buffers
  and the stream is zero-filled while idle, so the sink's buffer always
  flushes; on close it waits for the samples queued in the flowgraph and the
  kernel's buffers to go out.
* ``usrp``: a flowgraph ``pdu_to_stream_c -> uhd.usrp_sink``; each message is
  one UHD burst, ``tx_sob`` on its first sample and ``tx_eob`` on its last.
* ``loopback``: nothing leaves the process: on close the IQ goes through the
  profile's software channel into the streaming receiver, which prints what
  it decoded. This is the functional check to run first.
"""

import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional, TextIO, Tuple

import numpy as np
import pmt
from gnuradio import gr

from ..link import make_aggregation, packetize
from ..link.packet import MAX_MESSAGE_ID
from ..phy.burst_mapping import burst_length
from ..phy.ofdm_params import OfdmParams
from ..radio.profile import RadioProfile
from ..radio.sigmf_file import PacketAnnotation, write_recording
from ..phy.modem import modulate

Log = Callable[[str], None]


@dataclasses.dataclass
class TxMessage:
    """One message ready for the PHY."""

    message_id: int
    packets: List[bytes]
    modality: str
    tokens: int


def text_frame(text: str):
    from ..tokens.text_bpe import TextTokenizer

    if not text:
        raise ValueError("nothing to send: the message is empty")
    return TextTokenizer.default().encode_frame(text)


def image_frame(path: Path):
    """Tokenize an image file with the default VQ image tokenizer."""
    from ..data.image_data import read_image_file
    from ..tokens.image_vq import ImageTokenizer

    return ImageTokenizer.default().encode_frame(read_image_file(path))


def make_messages(frame, repeat: int = 1, first_message_id: int = 1,
                  aggregation: str = "interleaved", tokens_per_packet: int = 32
                  ) -> Iterator[TxMessage]:
    """Packetize ``frame`` ``repeat`` times (0: forever), each with the next
    message id (wrapping at 65536), so the receiver tells repeats apart."""
    if repeat < 0:
        raise ValueError(f"--repeat must be >= 0, got {repeat}")
    if not 0 <= first_message_id <= MAX_MESSAGE_ID:
        raise ValueError(f"message id must be 0..{MAX_MESSAGE_ID}, got {first_message_id}")
    agg = make_aggregation(aggregation, tokens_per_packet)
    i = 0
    while repeat == 0 or i < repeat:
        mid = (first_message_id + i) % (MAX_MESSAGE_ID + 1)
        yield TxMessage(mid, packetize(frame, mid, agg), frame.modality.name.lower(), len(frame))
        i += 1


def message_iq(packets: List[bytes], profile: RadioProfile
               ) -> Tuple[np.ndarray, List[Tuple[int, int]]]:
    """OFDM IQ of one message, scaled by ``tx_amplitude``, and where each
    packet's burst lies in it.

    Returns
    -------
    iq : np.ndarray, shape ``(n,)``, dtype ``complex64``
        Bursts each followed by ``gap_len`` zeros (padding is the sink's job).
    bursts : list of (start, length)
        Per packet, gap excluded.
    """
    params = OfdmParams(gap_len=profile.gap_len)
    iq = modulate(packets, profile.mcs, params) * np.float32(profile.tx_amplitude)
    bursts, start = [], 0
    for packet in packets:
        total = burst_length(len(packet), profile.mcs, params)
        bursts.append((start, total - params.gap_len))
        start += total
    return iq.astype(np.complex64), bursts


# ----------------------------------------------------------------------------- sinks


class ZmqTxSink:
    """IQ to a ZMQ PULL receiver (see :class:`~tokencom_sdr.radio.zmq_radio.ZmqIqSender`)."""

    def __init__(self, profile: RadioProfile, log: Log):
        from ..radio.zmq_radio import ZmqIqSender

        self.sender = ZmqIqSender(profile.address, profile.hwm, profile.wait_timeout_s,
                                  profile.drain_timeout_s, log)
        self.log = log
        log(f"zmq: bound to {self.sender.endpoint}")

    def send(self, iq: np.ndarray) -> None:
        self.sender.send(iq)

    def close(self, interrupted: bool = False) -> None:
        if interrupted:
            self.sender.drain_timeout_s = 0.5
        if not self.sender.close() and not interrupted:
            self.log("zmq: warning: the receiver did not take all samples before drain_timeout_s")


class _FlowgraphSink:
    """A started top block with a message-fed source and a radio sink."""

    def __init__(self, source, sink, name: str):
        self.tb = gr.top_block(name, catch_exceptions=False)
        self.source, self.sink = source, sink
        self.tb.connect(source, sink)
        self.tb.start()

    def _post(self, port: str, iq: np.ndarray) -> None:
        vector = pmt.init_c32vector(len(iq), iq.tolist())
        self.source._post(pmt.intern(port), pmt.cons(pmt.make_dict(), vector))

    def close(self, interrupted: bool = False) -> None:
        self.tb.stop()
        self.tb.wait()


class PlutoTxSink(_FlowgraphSink):
    """Zero-filled continuous stream into gr-iio's sink.

    Parameters
    ----------
    sink : gr block, optional
        Replaces the Pluto sink (tests use a vector sink behind a throttle).
    """

    def __init__(self, profile: RadioProfile, log: Log, sink=None):
        from ..gr.ofdm_stream_tx import BurstStreamSource
        from ..radio.pluto import make_pluto_sink

        self.profile = profile
        self.log = log
        sink = sink if sink is not None else make_pluto_sink(profile)
        super().__init__(BurstStreamSource(gap_len=0), sink, "tokencom_pluto_tx")
        self.posted = 0

    def send(self, iq: np.ndarray) -> None:
        from ..radio.pluto import pad_to_buffer

        padded = pad_to_buffer(iq, self.profile.burst_padding, self.profile.buffer_size)
        self._post("bursts", padded)
        self.posted += 1
        self.wait_sent()

    def wait_sent(self, timeout_s: float = 60.0) -> bool:
        """Block until the source has played out everything posted."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.source.bursts_in >= self.posted and self.source.queued_samples == 0:
                return True
            time.sleep(0.01)
        return False

    def close(self, interrupted: bool = False) -> None:
        if not interrupted:
            self.wait_sent()
            # The last samples are in the flowgraph's buffers and in the
            # kernel's IIO buffers (4 by default): let them reach the air.
            time.sleep(5 * self.profile.buffer_size / self.profile.sample_rate_hz + 0.1)
        super().close()


class UsrpTxSink(_FlowgraphSink):
    """One UHD burst per message, framed by ``tx_sob``/``tx_eob``.

    Parameters
    ----------
    sink : gr block, optional
        Replaces the USRP sink (tests use a vector sink).
    """

    def __init__(self, profile: RadioProfile, log: Log, sink=None):
        from gnuradio import pdu

        from ..radio.usrp import make_usrp_sink

        self.profile = profile
        sink = sink if sink is not None else make_usrp_sink(profile)
        super().__init__(pdu.pdu_to_stream_c(pdu.EARLY_BURST_APPEND, 64), sink, "tokencom_usrp_tx")
        self._busy_until = time.monotonic()

    def send(self, iq: np.ndarray) -> None:
        padded = np.concatenate([iq, np.zeros(self.profile.burst_padding, dtype=np.complex64)])
        self._post("pdus", padded)
        # The USRP consumes at the sample rate: pace ourselves to the airtime.
        airtime = len(padded) / self.profile.sample_rate_hz
        self._busy_until = max(self._busy_until, time.monotonic()) + airtime
        time.sleep(max(0.0, self._busy_until - time.monotonic()))

    def close(self, interrupted: bool = False) -> None:
        if not interrupted:
            time.sleep(max(0.0, self._busy_until - time.monotonic()) + 0.2)
        super().close()


class LoopbackTxSink:
    """Keeps the IQ; on close runs it through the profile's software channel
    and the streaming receiver in this process, printing what it decodes."""

    def __init__(self, profile: RadioProfile, log: Log, stream: TextIO, expect_text=None,
                 json_path: Optional[Path] = None):
        self.profile, self.log, self.stream = profile, log, stream
        self.expect_text, self.json_path = expect_text, json_path
        self.chunks: List[np.ndarray] = []
        self.reports: List[dict] = []

    def send(self, iq: np.ndarray) -> None:
        self.chunks.append(iq)

    def close(self, interrupted: bool = False) -> None:
        if interrupted or not self.chunks:
            return
        from ..channel.loopback_channel import LoopbackChannel
        from .rx import ArraySource, RxFlowgraph, RxOptions, run_receiver

        p = self.profile
        iq = np.concatenate(self.chunks)
        channel = LoopbackChannel(p.snr_db, p.cfo, p.sco_ppm, p.taps, p.seed)
        self.log(f"loopback: {len(iq)} samples through the software channel (SNR {p.snr_db:g} dB, "
                 f"CFO {p.cfo:g} fs, {p.sco_ppm:g} ppm, {len(p.taps)} taps) into the receiver")
        flowgraph = RxFlowgraph(ArraySource(iq), p, channel)
        options = RxOptions(expect_text=self.expect_text, json_path=self.json_path,
                            stream=self.stream)
        self.reports = run_receiver(flowgraph, p, options, finite=True,
                                    config={"radio": p.to_dict()})


def make_tx_sink(profile: RadioProfile, log: Log, stream: TextIO = sys.stdout,
                 expect_text: Optional[str] = None, json_path: Optional[Path] = None):
    """The sink of a profile's backend (opens the device).

    Raises
    ------
    RadioUnavailableError
        The device is missing or the ZMQ address cannot be bound.
    """
    if profile.backend == "zmq":
        return ZmqTxSink(profile, log)
    if profile.backend == "pluto":
        return PlutoTxSink(profile, log)
    if profile.backend == "usrp":
        return UsrpTxSink(profile, log)
    return LoopbackTxSink(profile, log, stream, expect_text, json_path)


# ----------------------------------------------------------------------------- runner


def run_transmitter(profile: RadioProfile, messages: Iterator[TxMessage], interval_s: float = 0.0,
                    record_path: Optional[Path] = None, log: Optional[Log] = None,
                    sink=None, stream: TextIO = sys.stdout) -> dict:
    """Send every message, ``interval_s`` apart, then drain the sink.

    Parameters
    ----------
    sink : optional
        An object with ``send(iq)`` and ``close(interrupted)``; by default
        :func:`make_tx_sink` for the profile.
    record_path : Path, optional
        Also write the transmitted IQ as a SigMF recording, one annotation
        per packet.

    Returns
    -------
    dict
        ``messages``, ``packets``, ``samples``, ``airtime_s``, ``endpoint``
        (ZMQ) and ``reports`` (loopback: what the receiver decoded).
    """
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    if interval_s < 0:
        raise ValueError(f"--interval must be >= 0 s, got {interval_s}")
    sink = sink if sink is not None else make_tx_sink(profile, log, stream)
    summary = {"messages": 0, "packets": 0, "samples": 0, "airtime_s": 0.0,
               "endpoint": getattr(getattr(sink, "sender", None), "endpoint", None), "reports": []}
    recorded: List[np.ndarray] = []
    notes: List[PacketAnnotation] = []
    interrupted = False
    try:
        for i, message in enumerate(messages):
            if i and interval_s:
                time.sleep(interval_s)
            iq, bursts = message_iq(message.packets, profile)
            if record_path is not None:
                offset = sum(len(c) for c in recorded)
                notes += [PacketAnnotation(offset + start, length, True, None, None,
                                           message.message_id, seq)
                          for seq, (start, length) in enumerate(bursts)]
                recorded.append(iq)
            sink.send(iq)
            summary["messages"] += 1
            summary["packets"] += len(message.packets)
            summary["samples"] += len(iq)
            log(f"[tx] message {message.message_id}: {message.tokens} {message.modality} tokens in "
                f"{len(message.packets)} packets, {len(iq)} samples "
                f"({len(iq) / profile.sample_rate_hz * 1e3:.1f} ms at "
                f"{profile.sample_rate_hz / 1e6:g} MS/s)")
    except KeyboardInterrupt:
        interrupted = True
        log("[tx] interrupted")
    finally:
        sink.close(interrupted)
    summary["airtime_s"] = summary["samples"] / profile.sample_rate_hz
    summary["reports"] = getattr(sink, "reports", [])
    if record_path is not None and recorded:
        write_recording(record_path, np.concatenate(recorded),
                        sample_rate_hz=profile.sample_rate_hz,
                        center_freq_hz=profile.center_freq_hz,
                        hardware=profile.hardware_label(), annotations=notes, mcs=profile.mcs,
                        sync_threshold=profile.sync_threshold, direction="tx")
    if interrupted:
        raise KeyboardInterrupt
    return summary
