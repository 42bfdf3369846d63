"""Text over the air, in loopback: text -> BPE tokens -> packets -> OFDM ->
channel -> OFDM -> packets with erasures -> tokens -> text, with metrics."""

import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ..channel.loopback_channel import LoopbackChannel
from ..link import make_aggregation, packetize
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD
from ..tokens.text_bpe import TextTokenizer
from ..phy.modem import run_phy_loopback
from ..link.receiver.text_receive import receive_text


@dataclass
class LinkConfig:
    """Everything that decides how a message crosses the loopback link.

    Attributes
    ----------
    snr_db : float
        Burst SNR in dB (burst power over noise power per complex sample).
    cfo : float
        Carrier frequency offset, normalised to the sample rate.
    sco_ppm : float
        Sample-clock offset in ppm.
    taps : list of complex
        Multipath taps (normalised to unit energy by the channel).
    mcs : str
        Modulation and coding scheme (``tokencom_sdr.phy.mcs``), e.g.
        ``"qpsk-1/2"``; ``"bpsk"`` and ``"qpsk"`` are uncoded.
    aggregation : str
        ``"interleaved"`` (token i -> packet i mod P) or ``"sequential"``.
    tokens_per_packet : int
        Tokens per packet.
    sync_threshold : float
        The receiver's Schmidl & Cox detection threshold.
    seed : int
        Noise seed.
    message_id : int
        Link-layer message id (0..65535).
    recovery : str
        How the receiver restores tokens of lost or CRC-failed packets:
        ``none`` (leave them erased), ``hard`` (hard bits of failed
        packets), ``fill`` (context model, no channel information) or
        ``soft`` (context model x bit LLRs); see
        :mod:`tokencom_sdr.context.text_recovery`.
    context_decoding : str
        With ``recovery="soft"``: how CRC-failed codewords are decoded again
        with prior knowledge before the MAP recovery: ``model`` (known link
        header, then the context model's token prior), ``header``,
        ``model-only`` or ``off``
        (:mod:`tokencom_sdr.link.receiver.redecoding`).
    """

    snr_db: float = 25.0
    cfo: float = 0.0
    sco_ppm: float = 0.0
    taps: List[complex] = field(default_factory=lambda: [1.0])
    mcs: str = "qpsk-1/2"
    aggregation: str = "interleaved"
    tokens_per_packet: int = 32
    sync_threshold: float = DEFAULT_SYNC_THRESHOLD
    seed: int = 0
    message_id: int = 1
    recovery: str = "none"
    context_decoding: str = "model"

    def make_channel(self) -> LoopbackChannel:
        return LoopbackChannel(self.snr_db, self.cfo, self.sco_ppm, self.taps, self.seed)


def run_text_loopback(text: str, config: Optional[LinkConfig] = None,
                      tokenizer: Optional[TextTokenizer] = None, *, text_recovery=None,
                      semantic: bool = True) -> Dict[str, object]:
    """Send ``text`` through the full chain and report what arrived.

    Returns
    -------
    dict
        The JSON report of ``tokencom loopback --text``: ``modality``,
        ``snr_db``, ``tokens_sent``, ``token_error_rate``,
        ``token_erasure_rate``, ``packets_sent``, ``packets_received``,
        ``packet_error_rate``, ``channel_uses``, ``exact``, ``sent_text``,
        ``received_text``, ``latency_s`` (``encode``/``phy``/``decode``),
        ``pdus_rejected`` (PHY outputs that failed the link checks) and
        ``config``; and from :func:`~tokencom_sdr.link.receiver.text_receive.receive_text`:
        ``recovery``, ``token_error_rate_raw`` (before recovery; ``token_error_rate``
        and ``exact`` are after it), ``semantic_similarity`` (MiniLM cosine of
        sent and received text; None if unavailable or ``semantic`` is False),
        ``received_text_raw``, ``failed_packets_used``, ``recovery_s`` and
        ``context_decoding`` (``soft``: ``candidates``, CRC-failed packets
        that could be decoded again, and ``recovered``, those that then
        passed their CRC, split into ``recovered_header_only`` and
        ``recovered_with_model``; None for other modes).
        ``packets_received`` and ``packet_error_rate`` are the radio's,
        before any re-decoding.
        ``text_recovery`` is an optional preloaded
        :class:`~tokencom_sdr.context.text_recovery.TextRecovery`.
    """
    config = config or LinkConfig()
    tokenizer = tokenizer or TextTokenizer.default()
    if not text:
        raise ValueError("nothing to send: the message is empty")

    t0 = time.perf_counter()
    frame = tokenizer.encode_frame(text)
    aggregation = make_aggregation(config.aggregation, config.tokens_per_packet)
    packets = packetize(frame, config.message_id, aggregation)
    t1 = time.perf_counter()
    phy = run_phy_loopback(packets, config.mcs, config.make_channel(),
                           config.sync_threshold)
    t2 = time.perf_counter()
    # The geometry comes from the sent frame only so that a message with no
    # surviving packet still decodes to the right number of erasures.
    received = receive_text(phy.received, text, frame, config.message_id, aggregation,
                            tokenizer, config.recovery, text_recovery, semantic,
                            config.context_decoding)
    reassembly = received.pop("reassembly").reassembly
    received_frame = reassembly.frame
    received_text = received["received_text"]
    t3 = time.perf_counter()

    stats = reassembly.stats
    packets_received = stats.packets_received
    report = {
        "modality": "text",
        "snr_db": config.snr_db,
        "tokens_sent": len(frame),
        "recovery": config.recovery,
        "token_error_rate_raw": received["token_error_rate_raw"],
        "token_error_rate": received["token_error_rate"],
        "token_erasure_rate": float(np.mean(received_frame.erased)),
        "packets_sent": len(packets),
        "packets_received": packets_received,
        "packet_error_rate": 1.0 - packets_received / len(packets),
        "pdus_rejected": stats.num_malformed,
        "channel_uses": phy.channel_uses,
        "bits_per_channel_use": 8 * len(text.encode("utf-8")) / phy.channel_uses,
        "exact": received_text == text,
        "semantic_similarity": received["semantic_similarity"],
        "failed_packets_used": received["failed_packets_used"],
        "context_decoding": received["context_decoding"],
        "sent_text": text,
        "received_text": received_text,
        "received_text_raw": received["received_text_raw"],
        # "decode" includes the recovery; "recovery_s" is that part alone.
        "latency_s": {"encode": t1 - t0, "phy": t2 - t1, "decode": t3 - t2},
        "recovery_s": received["recovery_s"],
        "config": asdict(config) | {"taps": [str(complex(t)) for t in config.taps]},
    }
    return report
