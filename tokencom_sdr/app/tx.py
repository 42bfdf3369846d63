"""Transmitter: text or image -> tokens -> packets -> OFDM IQ -> a radio.

Each message is modulated on its own (:func:`message_iq`: the PHY's
:func:`~tokencom_sdr.phy.modem.modulate`, which completes the
last burst's gap, times ``tx_amplitude``) and handed to the sink of the
profile's radio backend (:meth:`~tokencom_sdr.radio.backend.RadioBackend.make_sink`):
a ZMQ PUSH socket, a Pluto or USRP flowgraph, a SigMF file, or, for a
backend that loops back (the software channel), a collector whose IQ
:func:`receive_looped_back` then runs through the backend's channel into the
streaming receiver, which prints what it decoded. The loopback is the
functional check to run first.
"""

import dataclasses
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional, TextIO, Tuple

import numpy as np

from ..link import make_aggregation, packetize
from ..link.packet import MAX_MESSAGE_ID
from ..phy.burst_mapping import burst_length
from ..phy.modem import modulate
from ..phy.ofdm_params import OfdmParams
from ..radio.backend import Log, TxSink
from ..radio.backends import get_backend
from ..radio.profile import RadioProfile
from ..radio.sigmf_file import PacketAnnotation, write_recording
from ..tokens.frame import Modality


@dataclasses.dataclass
class TxMessage:
    """One message ready for the PHY."""

    message_id: int
    packets: List[bytes]
    modality: str
    tokens: int


def text_frame(text: str):
    """Tokenize ``text`` with the default BPE text tokenizer.

    Raises
    ------
    ValueError
        The text is empty.
    """
    from ..tokens.text_bpe import TextTokenizer

    if not text:
        raise ValueError("nothing to send: the message is empty")
    return TextTokenizer.default().encode_frame(text)


def image_frame(image: np.ndarray, tokenizer: str = "standard", id_search: int = 0,
                id_refine: int = 0):
    """Tokenize an image with an embedded VQ image tokenizer.

    Parameters
    ----------
    image : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
    tokenizer : str
        ``"standard"`` or ``"low-rate"`` (:meth:`ImageTokenizer.default`);
        the frame carries its wire id, which every packet header repeats.
    id_search : int
        ``ImageTokenizer.search_candidates``: 0 sends the nearest codewords,
        ``N >= 2`` chooses among the ``N`` nearest by the decoded picture.
    id_refine : int
        ``ImageTokenizer.refine``: rounds of gradient steps of the decoded
        picture's error that may replace nearest codewords (0: off; cheaper
        than the search).
    """
    from ..tokens.image_vq import ImageTokenizer

    encoder = ImageTokenizer.default(tokenizer)
    encoder.search_candidates = id_search
    encoder.refine = id_refine
    return encoder.encode_frame(image)


def make_messages(frame, repeat: int = 1, first_message_id: int = 1,
                  aggregation: str = "interleaved", tokens_per_packet: int = 32,
                  budget=None) -> Iterator[TxMessage]:
    """Packetize ``frame`` ``repeat`` times (0: forever), each with the next
    message id (wrapping at 65536), so the receiver tells repeats apart.

    With ``budget`` (a :class:`~tokencom_sdr.app.token_budget.TokenBudget`)
    only its share of the tokens is sent, ranked once with the embedded
    context model of the frame's modality; the receiver is not told."""
    if repeat < 0:
        raise ValueError(f"--repeat must be >= 0, got {repeat}")
    if not 0 <= first_message_id <= MAX_MESSAGE_ID:
        raise ValueError(f"message id must be 0..{MAX_MESSAGE_ID}, got {first_message_id}")
    if budget is None:
        agg = make_aggregation(aggregation, tokens_per_packet)
    else:
        agg = _budget_aggregation(frame, budget, aggregation, tokens_per_packet)
    i = 0
    while repeat == 0 or i < repeat:
        mid = (first_message_id + i) % (MAX_MESSAGE_ID + 1)
        yield TxMessage(mid, packetize(frame, mid, agg), frame.modality.name.lower(), len(frame))
        i += 1


def _budget_aggregation(frame, budget, aggregation: str, tokens_per_packet: int):
    """The grouping of the tokens ``budget`` keeps, ranked by the embedded models."""
    from .token_budget import budget_aggregation

    if aggregation != "interleaved":
        raise ValueError(f"a token budget interleaves the tokens it keeps; it cannot be "
                         f"combined with --aggregation {aggregation}")
    models = {}
    if budget.order == "importance":
        if frame.modality == Modality.TEXT:
            from ..context.text_recovery import TextRecovery
            models["text_context"] = TextRecovery()
        else:
            from ..context.image_recovery import default_context_model
            from ..tokens.registry import tokenizer_name
            models["image_context"] = default_context_model(
                tokenizer_name(Modality.IMAGE, frame.tokenizer))
    return budget_aggregation(frame, budget, tokens_per_packet, **models)


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


# ----------------------------------------------------------------------------- runner


def run_transmitter(profile: RadioProfile, messages: Iterator[TxMessage], interval_s: float = 0.0,
                    record_path: Optional[Path] = None, log: Optional[Log] = None,
                    sink: Optional[TxSink] = None) -> dict:
    """Send every message, ``interval_s`` apart, then close the sink (which
    lets the queued samples go out).

    Parameters
    ----------
    sink : TxSink, optional
        Where the IQ goes; by default the profile's backend makes it
        (:meth:`~tokencom_sdr.radio.backend.RadioBackend.make_sink`, which
        opens the device). Pass one to keep it, e.g. to receive what a
        loopback collected (:func:`receive_looped_back`).
    record_path : Path, optional
        Also write the transmitted IQ as a SigMF recording, one annotation
        per packet.

    Returns
    -------
    dict
        ``messages``, ``packets``, ``samples``, ``airtime_s``, ``endpoint``
        (ZMQ: the bound address) and ``reports`` (empty here; the CLI puts
        the loopback receiver's reports there).

    Raises
    ------
    RadioUnavailableError
        The device is missing or the ZMQ address cannot be bound.
    """
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    if interval_s < 0:
        raise ValueError(f"--interval must be >= 0 s, got {interval_s}")
    sink = sink if sink is not None else get_backend(profile.backend).make_sink(profile, log)
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
    if record_path is not None and recorded:
        write_recording(record_path, np.concatenate(recorded),
                        sample_rate_hz=profile.sample_rate_hz,
                        center_freq_hz=profile.center_freq_hz,
                        hardware=profile.hardware_label(), annotations=notes, mcs=profile.mcs,
                        sync_threshold=profile.sync_threshold, direction="tx")
    if interrupted:
        raise KeyboardInterrupt
    return summary


# ----------------------------------------------------------------------------- loopback


def receive_looped_back(profile: RadioProfile, iq: np.ndarray, log: Log,
                        stream: TextIO = sys.stdout, expect_text: Optional[str] = None
                        ) -> List[dict]:
    """Run what a looping-back backend's sink collected through the backend's
    channel into the streaming receiver, which prints each message it decodes.

    Parameters
    ----------
    profile : RadioProfile
        Its backend has ``loops_back`` (e.g. ``loopback``).
    iq : np.ndarray, shape ``(n,)``, dtype ``complex64``
        The transmitted IQ (``IqCollector.samples()``).
    stream : file
        Where the receiver prints messages and statistics.
    expect_text : str, optional
        The text sent, for ``exact`` and the token error rate.

    Returns
    -------
    list of dict
        The receiver's reports, one per message (empty when ``iq`` is).
    """
    from ..radio.array_source import ArraySource
    from .rx import RxFlowgraph, RxOptions, run_receiver
    from .rx_report import Expected

    if not len(iq):
        return []
    backend = get_backend(profile.backend)
    channel = backend.make_channel(profile)
    log(f"{backend.name}: {len(iq)} samples through the {backend.hardware_label(profile)} "
        f"into the receiver")
    flowgraph = RxFlowgraph(ArraySource(iq), profile, channel)
    options = RxOptions(expected=Expected(text=expect_text), stream=stream)
    return run_receiver(flowgraph, profile, options, finite=True,
                        config={"radio": profile.to_dict()})
