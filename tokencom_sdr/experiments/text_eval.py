"""``tokencom text-eval``: exact-message rate, token errors and semantic similarity
vs SNR, for each recovery mode, over held-out messages.

Channels
--------
``ofdm`` (default)
    The real GNU Radio chain: OFDM TX -> software channel (AWGN, optional
    CFO) -> OFDM RX, through :func:`~tokencom_sdr.phy.modem.run_phy_loopback`.
    ``soft`` uses the per-bit LLRs the receiver attaches to each packet
    (``ReceivedBurst.bit_llr``: decoder posteriors for a coded MCS); with a
    coded MCS it first decodes failed codewords again with the known link
    header and the model's token prior
    (:mod:`~tokencom_sdr.link.receiver.redecoding`). If the PHY
    delivers hard decisions only, the LLRs come from the hard bits of
    CRC-failed packets with a bit error rate estimated from their known
    header bits (:mod:`~tokencom_sdr.link.receiver.soft_reassembly`); the rows'
    ``llr_source`` says which.
``soft-bits``
    The packet-level soft channel
    (:class:`~tokencom_sdr.channel.soft_bit_channel.SoftBitChannel`): the
    packet bits as BPSK over AWGN with exact LLRs, ``snr_db`` = Es/N0. A
    stand-in for a soft-output PHY, not the OFDM chain.

Every message is received by the receiver library
(:class:`~tokencom_sdr.link.receiver.TokenReceiver`), once per mode, from
the packets alone.

Recovery modes: ``none`` (radio alone), ``hard`` (hard decisions of failed
packets, no model), ``fill`` (the language model predicts every token of a
failed packet from context with no channel information: the LM-only
baseline), ``soft`` (MAP: LLRs x model prior). Every run also reports the
LM-only baseline as its own row, ``recovery: "lm-only"``; it is the ``fill``
computation, listed under the name the issue uses.

Each JSON row: ``{snr_db, recovery, exact_rate, token_error_rate,
semantic_similarity}`` plus ``token_error_rate_raw``, ``packet_error_rate``,
``channel``, ``mcs``, ``messages``, ``llr_source``, ``recovery_ms_mean`` and
``recovery_ms_median`` (the receiver's time per message: reassembly, re-decoding
and recovery), and the conventional baseline for the same messages
(``utf8_bytes_per_message``, ``zlib_bytes_per_message``,
``bpe_bytes_per_message``, ``bpe_over_zlib``; UTF-8 through zlib level 9
against the BPE bits). ``soft`` rows also carry
``context_decoding`` (the setting) and ``packets_redecoded``: over all
messages, ``candidates`` (CRC-failed packets that brought their channel LLRs)
and ``recovered`` (those that passed their CRC after decoding again with the
known header and the model's token prior), split into
``recovered_header_only`` and ``recovered_with_model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..data.heldout_messages import heldout_messages
from ..link import make_aggregation, packetize
from ..link.receiver import CONTEXT_DECODING, TokenReceiver
from ..metrics.text_baseline import mean_text_baseline_sizes
from ..tokens.text_bpe import TextTokenizer

__all__ = ["CHANNELS", "TextEvalConfig", "parse_mcs", "run_text_eval",
           "plot_text_eval", "LLR_SOURCES"]

CHANNELS = ("ofdm", "soft-bits")

LLR_SOURCES = {
    "ofdm": "bit LLRs from the OFDM receiver (decoder posteriors for coded MCS)",
    "ofdm-hard": "hard bits of CRC-failed packets, BSC LLR from a header-pilot bit error "
                 "estimate (the PHY delivered no LLRs)",
    "soft-bits": "exact BPSK/AWGN bit LLRs of the packet-level soft channel",
}

#: The issue's name for the fill computation when reported as a baseline.
LM_ONLY = "lm-only"

def parse_mcs(name: str) -> str:
    """Validate an MCS name for the OFDM chain and return it normalised.

    Every name of the MCS table (:mod:`tokencom_sdr.phy.mcs`) is accepted
    (``qpsk-1/2``, ``16qam-3/4``, ...; ``bpsk``/``qpsk`` are uncoded). A
    ``-uncoded`` suffix is accepted for the uncoded ones.
    """
    base = name.strip().lower()
    if base.endswith("-uncoded"):
        base = base[: -len("-uncoded")]
    from ..phy.mcs import MCS_NAMES
    if base in MCS_NAMES:
        return base
    raise ValueError(f"unknown MCS {name!r}; the PHY offers {', '.join(MCS_NAMES)}")


@dataclass
class TextEvalConfig:
    """What :func:`run_text_eval` measures.

    Attributes
    ----------
    snrs : list of float
        SNRs in dB (burst SNR for ``ofdm``, Es/N0 for ``soft-bits``).
    mcs : str
        See :func:`parse_mcs`.
    messages : int
        Held-out messages per SNR (the same messages at every SNR).
    recoveries : sequence of str
        Modes of :data:`~tokencom_sdr.context.text_recovery.RECOVERY_MODES`.
    channel : str
        One of :data:`CHANNELS`.
    tokens_per_packet, aggregation, cfo, sync_threshold, seed
        Link and channel settings.
    semantic : bool
        Compute MiniLM semantic similarity (None in the rows if unavailable).
    min_tokens, max_tokens : int
        Message length range.
    context_decoding : str
        How ``soft`` decodes CRC-failed codewords again before its MAP
        recovery (:data:`~tokencom_sdr.link.receiver.redecoding.CONTEXT_DECODING`):
        ``model``, ``header``, ``model-only`` or ``off``. Only coded PHYs hand over the
        channel LLRs (``code_llr``) this needs; other modes never re-decode.
    """

    snrs: List[float]
    mcs: str = "qpsk"
    messages: int = 50
    recoveries: Sequence[str] = ("none", "fill", "soft")
    channel: str = "ofdm"
    tokens_per_packet: int = 32
    aggregation: str = "interleaved"
    cfo: float = 0.0
    sync_threshold: Optional[float] = None
    seed: int = 0
    semantic: bool = True
    min_tokens: int = 60
    max_tokens: int = 128
    context_decoding: str = "model"

    def __post_init__(self):
        from ..context.text_recovery import RECOVERY_MODES

        if self.context_decoding not in CONTEXT_DECODING:
            raise ValueError(f"unknown context decoding {self.context_decoding!r}; "
                             f"choose {', '.join(CONTEXT_DECODING)}")

        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}; choose {', '.join(CHANNELS)}")
        self.modulation = parse_mcs(self.mcs)
        if self.channel == "soft-bits" and self.modulation not in ("bpsk", "bpsk-uncoded"):
            raise ValueError("the soft-bits channel sends every bit as BPSK; use --mcs bpsk")
        bad = [r for r in self.recoveries if r not in RECOVERY_MODES + (LM_ONLY,)]
        if bad:
            raise ValueError(f"unknown recovery mode(s) {bad}; choose from "
                             f"{', '.join(RECOVERY_MODES + (LM_ONLY,))}")
        if self.messages < 1:
            raise ValueError("need at least one message")
        if self.min_tokens < 60:
            raise ValueError("evaluation messages must have at least 60 tokens")


def _ofdm_loopback(packets, mcs: str, snr: float, cfo: float, seed: int,
                   threshold: Optional[float]) -> list:
    """One message's packets through the OFDM chain: what the receiver
    delivered, as :class:`~tokencom_sdr.phy.received_burst.ReceivedBurst`.
    (Each run's flowgraph is freed afterwards, so the sweep runs in this
    process.)"""
    from ..channel.loopback_channel import LoopbackChannel
    from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD
    from ..phy.modem import run_phy_loopback

    channel = LoopbackChannel(snr, cfo, 0.0, [1.0], seed)
    result = run_phy_loopback(packets, mcs, channel,
                              DEFAULT_SYNC_THRESHOLD if threshold is None else threshold)
    # A PHY with soft output attaches per-bit LLRs (positive = 0). A failed
    # codeword also brings its channel LLRs (code_llr) so that the receiver
    # can decode it again with a prior.
    return result.received


def _channel_seed(seed: int, snr_db: float, message_index: int) -> int:
    """Noise seed of one message at one SNR. It depends on the SNR's value,
    not its place in the sweep, so a message sees the same noise draw at a
    given SNR in every run with the same ``seed``."""
    milli_db = int(round(snr_db * 1000)) % 1_000_000
    return (seed * 1_000_003 + milli_db * 10_007 + message_index) % (2**31 - 1)


def run_text_eval(config: TextEvalConfig, recovery=None, tokenizer: Optional[TextTokenizer] = None,
                  progress: bool = True, messages: Optional[List[str]] = None) -> List[Dict]:
    """Measure every recovery mode at every SNR.

    Parameters
    ----------
    config : TextEvalConfig
    recovery : TextRecovery, optional
        Defaults to one with the committed model.
    messages : list of str, optional
        Override the held-out messages (tests).

    Returns
    -------
    list of dict
        One row per (SNR, recovery mode), in SNR order; see the module docstring.
    """
    from ..context.text_recovery import TextRecovery
    from ..metrics.semantic import SemanticModelUnavailable, default_encoder

    tokenizer = tokenizer or TextTokenizer.default()
    needs_model = any(r in ("fill", "soft", LM_ONLY) for r in config.recoveries)
    if recovery is None and needs_model:
        recovery = TextRecovery()
    if messages is None:
        messages = heldout_messages(config.messages, tokenizer, config.min_tokens,
                                    config.max_tokens, seed=config.seed)
    frames = [tokenizer.encode_frame(text) for text in messages]
    # The conventional sender's size for the same messages: UTF-8 through zlib.
    baseline = mean_text_baseline_sizes(messages, [len(f) for f in frames],
                                        tokenizer.bits_per_token)
    agg = make_aggregation(config.aggregation, config.tokens_per_packet)
    packets = [packetize(frame, i % 65536, agg) for i, frame in enumerate(frames)]
    modes = list(dict.fromkeys(config.recoveries))
    if "fill" in modes and LM_ONLY not in modes:
        modes.append(LM_ONLY)
    computed = [m for m in modes if m != LM_ONLY]
    if LM_ONLY in modes and "fill" not in computed:
        computed.append("fill")
    receivers = {mode: TokenReceiver(mode, context_decoding=config.context_decoding,
                                     text_tokenizer=tokenizer, text_context=recovery)
                 for mode in computed}

    encoder = None
    if config.semantic:
        try:
            encoder = default_encoder()
        except SemanticModelUnavailable as error:
            import warnings
            warnings.warn(f"semantic_similarity will be null: {error}", RuntimeWarning)
    sent_embeddings = encoder.encode(messages) if encoder is not None else None

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(config.snrs) * len(messages), unit="msg", dynamic_ncols=True,
                   desc=f"text-eval {config.channel} {config.mcs}")
    rows: List[Dict] = []
    try:
        for snr in config.snrs:
            if bar is not None:
                bar.set_postfix({"snr": f"{snr:g} dB"}, refresh=True)
            received_pdus = _transmit(config, packets, snr)
            llr_source = config.channel
            if config.channel == "ofdm" and not any(
                    p.bit_llr is not None for message in received_pdus for p in message):
                llr_source = "ofdm-hard"
            stats = {m: {"exact": [], "ter": [], "texts": [], "ms": []} for m in computed}
            ter_raw, per = [], []
            redecoded = {"candidates": 0, "recovered": 0, "recovered_header_only": 0,
                         "recovered_with_model": 0}
            for i, (frame, pdus) in enumerate(zip(frames, received_pdus)):
                for mode in computed:
                    message = receivers[mode].receive(pdus, i % 65536)
                    if mode == computed[0]:
                        received = 0 if message is None else message.packets_received
                        ter_raw.append(1.0 if message is None else message.token_erasure_rate)
                        per.append(1.0 - received / len(packets[i]))
                    if message is None:  # no packet passed its CRC: nothing to go on
                        text, ter, elapsed = "", 1.0, 0.0
                    else:
                        text, elapsed = message.text, message.recovery_s
                        if len(message.frame) != len(frame):
                            # A layout estimated from CRC-failed headers alone
                            # can get the length wrong: every token counts as wrong.
                            ter = 1.0
                        else:
                            ter = float(np.mean(message.frame.erased | (message.frame.ids != frame.ids)))
                        if message.redecoding is not None:
                            for key in redecoded:
                                redecoded[key] += message.redecoding[key]
                    stats[mode]["exact"].append(text == messages[i])
                    stats[mode]["ter"].append(ter)
                    stats[mode]["texts"].append(text)
                    stats[mode]["ms"].append(1e3 * elapsed)
                if bar is not None:
                    bar.update(1)
            for mode in modes:
                s = stats["fill" if mode == LM_ONLY else mode]
                similarity = None
                if encoder is not None:
                    got = encoder.encode(s["texts"])
                    similarity = float(np.mean(np.sum(got * sent_embeddings, axis=1)))
                rows.append({
                    "snr_db": float(snr),
                    "recovery": mode,
                    "exact_rate": float(np.mean(s["exact"])),
                    "token_error_rate": float(np.mean(s["ter"])),
                    "semantic_similarity": similarity,
                    "token_error_rate_raw": float(np.mean(ter_raw)),
                    "packet_error_rate": float(np.mean(per)),
                    "channel": config.channel,
                    "mcs": config.mcs,
                    "messages": len(messages),
                    "llr_source": LLR_SOURCES[llr_source] if mode in ("soft", "hard") else None,
                    "recovery_ms_mean": float(np.mean(s["ms"])),
                    "recovery_ms_median": float(np.median(s["ms"])),
                    **baseline,
                })
                if mode == "soft":
                    # Failed codewords decoded again with header/model priors.
                    rows[-1]["context_decoding"] = config.context_decoding
                    rows[-1]["packets_redecoded"] = dict(redecoded)
    finally:
        if bar is not None:
            bar.close()
    return rows


def _transmit(config: TextEvalConfig, packets, snr: float) -> List[list]:
    """What arrived for every message at one SNR, as lists of
    :class:`~tokencom_sdr.phy.received_burst.ReceivedBurst` (``bit_llr`` None
    when the PHY made hard decisions only)."""
    from ..channel.soft_bit_channel import SoftBitChannel

    if config.channel == "soft-bits":
        out = []
        for i, message_packets in enumerate(packets):
            channel = SoftBitChannel(snr, seed=_channel_seed(config.seed, snr, i))
            out.append(channel.transmit_all(message_packets))
        return out
    return [_ofdm_loopback(message_packets, config.modulation, snr, config.cfo,
                           _channel_seed(config.seed, snr, i), config.sync_threshold)
            for i, message_packets in enumerate(packets)]


def plot_text_eval(rows: List[Dict], path) -> None:
    """Exact-message rate and semantic similarity vs SNR, one curve per mode."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(dict.fromkeys(r["recovery"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode in modes:
        pts = [r for r in rows if r["recovery"] == mode]
        snrs = [r["snr_db"] for r in pts]
        # lm-only repeats fill's numbers: dashed, so both stay visible.
        style = {"marker": "o", "label": mode, "linestyle": "--" if mode == LM_ONLY else "-"}
        axes[0].plot(snrs, [r["exact_rate"] for r in pts], **style)
        if all(r["semantic_similarity"] is not None for r in pts):
            axes[1].plot(snrs, [r["semantic_similarity"] for r in pts], **style)
    channel = rows[0]["channel"] if rows else ""
    mcs = rows[0]["mcs"] if rows else ""
    axes[0].set(xlabel="SNR (dB)", ylabel="exact-message rate", ylim=(-0.02, 1.02),
                title=f"exact messages ({channel}, {mcs})")
    axes[1].set(xlabel="SNR (dB)", ylabel="MiniLM cosine", title="semantic similarity")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(str(path), dpi=120)
    plt.close(fig)
