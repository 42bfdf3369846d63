"""``tokencom todma``: token-domain multiple access against orthogonal TDMA, text.

Sources: ``K x frames`` held-out corpus messages (never seen in training),
each cut to its first ``slots`` BPE tokens; in a frame, K devices send one
message each, one token per slot, all at once (:mod:`tokencom_sdr.todma`).

Schemes (the same messages and SNR for all three)
-------------------------------------------------
``todma``
    The ToDMA receiver (OMP detection, clustering, Hungarian rebuild,
    collision masking) and the text context model filling every masked token,
    its prediction restricted to the tokens detected in the slot
    (:mod:`tokencom_sdr.todma.recovery`, fill ``candidates``).
``todma-free-fill``
    The same, with the model free to fill any of the 4096 tokens
    (``TextRecovery``, mode ``fill``).
``todma-no-context``
    The same receiver without the fill: masked tokens count as errors.
``tdma``
    Orthogonal access: each device's message (the text of its ``slots``
    tokens) is sent after the others through the real packet link and
    GNU Radio OFDM PHY (:func:`tokencom_sdr.app.loopback.run_text_loopback`,
    default MCS and receiver, burst SNR = the same SNR); its channel uses are
    the PHY's complex samples, summed over the K devices.

The ToDMA frames ride on the OFDM numerology (:mod:`tokencom_sdr.todma.ofdm_frame`):
a Schmidl & Cox preamble, then the codewords on the 48 data carriers with
the PHY's pilots. Each device has a Rayleigh gain; drawn uniformly per
frame, all devices share a timing offset in ``[0, common_delay]`` samples
and a CFO in ``[-common_cfo, common_cfo]`` cycles per sample (the
receiver's own error), and each adds its residual in ``[0, max_delay]`` and
``[-max_cfo, max_cfo]`` (:mod:`tokencom_sdr.channel.multi_device`);
the receiver finds the frame with the PHY's detector, removes the common
timing and CFO, and estimates the number of devices unless ``known_devices``.

Channel uses of ToDMA: the frame's time samples, preamble, pilots and
cyclic prefixes included, as TDMA's are the PHY's samples;
``channel_uses_symbols`` is ``slots x L``, the codewords alone.

Scoring pairs the receiver's sequences with the devices by their content
(:func:`tokencom_sdr.todma.align_sequences`: the best permutation against
what was sent, at scoring time only); a device the receiver did not count
has every token wrong.

Each JSON row: ``devices``, ``snr_db``, ``scheme``, ``codeword_len``,
``slots``, ``frames``, ``collisions`` (device-slot tokens that another device
also sent in that slot), ``collisions_resolved_rate`` (colliding tokens
restored exactly; None for TDMA), ``token_error_rate``, ``exact_token_rate``
(1 - TER), ``exact_rate`` (messages restored exactly, all tokens),
``semantic_similarity`` (MiniLM cosine, None when unavailable or off),
``channel_uses`` (per frame of K messages) and, for the ToDMA schemes,
``channel_uses_symbols``, ``channel_use_ratio_vs_tdma`` (``samples``: the
channel uses over TDMA's; ``symbols``: the codewords alone over TDMA's
samples), ``assignment_rate_non_colliding`` (non-colliding tokens that
reached their own device, before any fill), ``devices_estimated`` (mean K
the receiver found), ``device_count_exact_rate`` (frames where it found
exactly K), ``known_devices``, ``max_delay_samples``, ``max_cfo``,
``common_delay_samples``, ``common_cfo`` and
``stage_ms_per_slot`` (receiver stages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..data.heldout_messages import heldout_messages
from ..channel.multi_device import DeviceOffsets
from ..todma import (STAGES, ToDMAReceiver, align_sequences, aligned, collision_positions,
                     fill_text_sequences, gaussian_codebook, rayleigh_gains, transmit_ofdm_frame)
from ..tokens.frame import Modality, TokenFrame
from ..tokens.text_bpe import TextTokenizer

__all__ = ["SCHEMES", "TodmaEvalConfig", "run_todma_eval", "plot_todma_eval"]

SCHEMES = ("todma", "todma-free-fill", "todma-no-context", "tdma")


@dataclass
class TodmaEvalConfig:
    """What :func:`run_todma_eval` measures.

    Attributes
    ----------
    devices : list of int
        Numbers of devices K.
    snrs : list of float
        Per-channel-use SNRs in dB (:mod:`tokencom_sdr.todma.transmitter`),
        also the TDMA burst SNR.
    codeword_len : int
        L, channel uses per ToDMA slot.
    frames : int
        Frames per (K, SNR); each carries one message per device.
    slots : int
        Tokens per message = slots per frame.
    schemes : sequence of str
        Subset of :data:`SCHEMES`.
    seed : int
        Seeds the messages' order, the codebook, the gains and the noise.
    semantic : bool
        Compute the MiniLM similarity.
    max_delay : float
        Largest per-device timing offset, samples.
    max_cfo : float
        Largest per-device CFO, cycles per sample.
    known_devices : bool
        Tell the receiver K (else it estimates it).
    common_delay : float
        Largest timing offset shared by all devices, samples.
    common_cfo : float
        Largest CFO shared by all devices, cycles per sample.
    """

    devices: List[int]
    snrs: List[float]
    codeword_len: int = 64
    frames: int = 4
    slots: int = 64
    schemes: Sequence[str] = SCHEMES
    seed: int = 0
    semantic: bool = True
    max_delay: float = 0.0
    max_cfo: float = 0.0
    known_devices: bool = False
    common_delay: float = 8.0
    common_cfo: float = 1e-3

    def __post_init__(self):
        bad = [s for s in self.schemes if s not in SCHEMES]
        if bad:
            raise ValueError(f"unknown scheme(s) {bad}; choose from {', '.join(SCHEMES)}")
        if not self.devices or min(self.devices) < 1:
            raise ValueError("need at least one device count, each >= 1")
        if self.frames < 1 or self.slots < 1 or self.codeword_len < 1:
            raise ValueError("frames, slots and codeword_len must be >= 1")


class _Tally:
    """Per-scheme counts over the frames of one (K, SNR) point."""

    def __init__(self):
        self.correct, self.tokens, self.messages_exact, self.messages = 0, 0, 0, 0
        self.collisions, self.collisions_right, self.channel_uses = 0, 0, 0
        self.sent_texts: List[str] = []
        self.received_texts: List[str] = []

    def add_tokens(self, right: np.ndarray, colliding: Optional[np.ndarray] = None) -> None:
        """``right``: ``(K, N)`` bool, the token arrived exactly."""
        self.correct += int(right.sum())
        self.tokens += right.size
        self.messages_exact += int(right.all(axis=1).sum())
        self.messages += right.shape[0]
        if colliding is not None:
            self.collisions += int(colliding.sum())
            self.collisions_right += int((right & colliding).sum())


def _device_texts(tokenizer, ids: np.ndarray, erased: Optional[np.ndarray] = None) -> List[str]:
    """Texts of ``(K, N)`` token sequences; erased tokens show the erasure marker."""
    texts = []
    for row in range(ids.shape[0]):
        frame = TokenFrame(ids=ids[row], modality=Modality.TEXT, shape=(ids.shape[1],),
                           bits_per_token=tokenizer.bits_per_token,
                           erased=None if erased is None else erased[row])
        texts.append(tokenizer.decode_frame(frame))
    return texts


def _tdma_frame(texts: List[str], snr: float, seed: int, tally: _Tally, text_recovery) -> None:
    """Each device's text through the real link, one after another."""
    from ..app.loopback import LinkConfig, run_text_loopback

    right, uses = [], 0
    for device, text in enumerate(texts):
        report = run_text_loopback(text, LinkConfig(snr_db=snr, seed=seed + device),
                                   text_recovery=text_recovery, semantic=False)
        uses += int(report["channel_uses"])
        sent = int(report["tokens_sent"])
        wrong = int(round(float(report["token_error_rate"]) * sent))
        tally.correct += sent - wrong
        tally.tokens += sent
        right.append(bool(report["exact"]))
        tally.received_texts.append(str(report["received_text"]))
    tally.messages_exact += sum(right)
    tally.messages += len(texts)
    tally.channel_uses += uses


def run_todma_eval(config: TodmaEvalConfig, text_recovery=None,
                   tokenizer: Optional[TextTokenizer] = None,
                   progress: bool = False) -> List[Dict]:
    """Measure every scheme at every (K, SNR).

    Parameters
    ----------
    config : TodmaEvalConfig
    text_recovery : TextRecovery, optional
        The context model; defaults to the committed one when ``todma`` or
        ``tdma`` runs.
    tokenizer : TextTokenizer, optional

    Returns
    -------
    list of dict
        One row per (K, SNR, scheme); see the module docstring.
    """
    from ..context.text_recovery import TextRecovery
    from ..metrics.semantic import default_encoder_or_none

    tokenizer = tokenizer or TextTokenizer.default()
    if text_recovery is None and set(config.schemes) - {"todma-no-context"}:
        text_recovery = TextRecovery()
    encoder = default_encoder_or_none() if config.semantic else None
    codebook = gaussian_codebook(config.codeword_len, 1 << tokenizer.bits_per_token, config.seed)
    rows: List[Dict] = []
    for devices in config.devices:
        texts = heldout_messages(devices * config.frames, tokenizer, config.slots, 128,
                                 seed=config.seed)
        if len(texts) < devices * config.frames:
            raise ValueError(f"only {len(texts)} held-out messages of >= {config.slots} tokens")
        all_ids = np.stack([tokenizer.encode(text)[:config.slots] for text in texts])
        receiver = ToDMAReceiver(codebook, devices if config.known_devices else None,
                                 seed=config.seed)
        for snr in config.snrs:
            rng = np.random.default_rng([config.seed, devices, int(round(snr * 1000))])
            tallies = {scheme: _Tally() for scheme in config.schemes}
            assigned, non_colliding, found = 0, 0, []
            stage_s = {stage: 0.0 for stage in STAGES}
            for frame_index in range(config.frames):
                ids = all_ids[frame_index * devices:(frame_index + 1) * devices]
                sent_texts = [tokenizer.decode(row) for row in ids]
                colliding = collision_positions(ids)
                gains = rayleigh_gains(devices, rng)
                offsets = DeviceOffsets.draw(devices, config.max_delay, config.max_cfo, rng,
                                             config.common_delay, config.common_cfo)
                uplink = transmit_ofdm_frame(codebook, ids, gains, snr, rng, offsets)
                use_context = "todma" in config.schemes
                result = receiver.receive_samples(uplink.samples, uplink.noise_var, uplink.layout,
                                                  text_recovery=text_recovery if use_context else None,
                                                  bits_per_token=tokenizer.bits_per_token)
                for stage, seconds in result.stage_s.items():
                    stage_s[stage] += seconds
                found.append(result.devices)
                order = align_sequences(result.sequences.tokens, ~result.sequences.erased, ids)
                raw_ids = aligned(result.sequences.tokens, order, -1)
                raw_erased = aligned(result.sequences.erased, order, True)
                raw_right = (raw_ids == ids) & ~raw_erased
                assigned += int(raw_right[~colliding].sum())
                non_colliding += int((~colliding).sum())
                for scheme, tally in tallies.items():
                    tally.sent_texts.extend(sent_texts)
                    if scheme == "tdma":
                        _tdma_frame(sent_texts, snr, config.seed + 1000 * frame_index, tally,
                                    text_recovery)
                        continue
                    tally.channel_uses += uplink.channel_uses
                    if scheme in ("todma", "todma-free-fill"):
                        if scheme == "todma":
                            filled = aligned(result.filled, order, -1)
                        else:
                            filled = aligned(fill_text_sequences(result.sequences, text_recovery,
                                                                 tokenizer.bits_per_token), order, -1)
                        tally.add_tokens(filled == ids, colliding)
                        tally.received_texts.extend(tokenizer.decode(row[row >= 0]) for row in filled)
                    else:
                        tally.add_tokens(raw_right, colliding)
                        tally.received_texts.extend(_device_texts(tokenizer, np.where(raw_erased, 0, raw_ids),
                                                                  raw_erased))
                if progress:
                    print(f"todma: K={devices} snr={snr:g} frame {frame_index + 1}/{config.frames}",
                          flush=True)
            slots_total = config.frames * config.slots
            for scheme, tally in tallies.items():
                similarity = None
                if encoder is not None:
                    similarity = float(np.mean(encoder.similarities(tally.sent_texts,
                                                                    tally.received_texts)))
                ter = 1.0 - tally.correct / max(tally.tokens, 1)
                row = {
                    "devices": devices, "snr_db": float(snr), "scheme": scheme,
                    "codeword_len": config.codeword_len, "slots": config.slots,
                    "frames": config.frames,
                    "collisions": tally.collisions,
                    "collisions_resolved_rate": (None if scheme == "tdma" or not tally.collisions
                                                 else tally.collisions_right / tally.collisions),
                    "token_error_rate": ter, "exact_token_rate": 1.0 - ter,
                    "exact_rate": tally.messages_exact / max(tally.messages, 1),
                    "semantic_similarity": similarity,
                    "channel_uses": tally.channel_uses / config.frames,
                }
                if scheme != "tdma":
                    row["channel_uses_symbols"] = config.slots * config.codeword_len
                    row["assignment_rate_non_colliding"] = assigned / max(non_colliding, 1)
                    row["devices_estimated"] = float(np.mean(found))
                    row["device_count_exact_rate"] = float(np.mean(np.array(found) == devices))
                    row["known_devices"] = config.known_devices
                    row["max_delay_samples"] = config.max_delay
                    row["max_cfo"] = config.max_cfo
                    row["common_delay_samples"] = config.common_delay
                    row["common_cfo"] = config.common_cfo
                    row["stage_ms_per_slot"] = {stage: 1e3 * seconds / slots_total
                                                for stage, seconds in stage_s.items()
                                                if scheme == "todma" or stage != "recovery"}
                rows.append(row)
            tdma = next((r for r in rows[-len(tallies):] if r["scheme"] == "tdma"), None)
            for row in rows[-len(tallies):]:
                if tdma is not None and row["scheme"] != "tdma":
                    row["channel_use_ratio_vs_tdma"] = {
                        "samples": row["channel_uses"] / tdma["channel_uses"],
                        "symbols": row["channel_uses_symbols"] / tdma["channel_uses"]}
    return rows


def _quality(row: Dict) -> float:
    """What the quality panel shows: PSNR for images, else the MiniLM cosine,
    else the exact-message rate."""
    if "psnr_db" in row:
        return row["psnr_db"]
    if row.get("semantic_similarity") is not None:
        return row["semantic_similarity"]
    return row["exact_rate"]


def plot_todma_eval(rows: List[Dict], path) -> None:
    """Token error rate and quality against K, one curve per scheme (first SNR); text or
    image rows."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    snr = rows[0]["snr_db"] if rows else None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for scheme in dict.fromkeys(r["scheme"] for r in rows):
        points = [r for r in rows if r["scheme"] == scheme and r["snr_db"] == snr]
        devices = [r["devices"] for r in points]
        axes[0].plot(devices, [r["token_error_rate"] for r in points], marker="o", label=scheme)
        axes[1].plot(devices, [_quality(r) for r in points], marker="o", label=scheme)
    axes[0].set(xlabel="devices K", ylabel="token error rate", title=f"TER at {snr} dB")
    axes[1].set(xlabel="devices K", ylabel="PSNR dB (images), MiniLM cosine or exact-message "
                "rate (text)", title="quality")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(str(path), dpi=120)
    plt.close(fig)
