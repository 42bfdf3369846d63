"""What ``tokencom rx`` reports for each received message: its JSON object,
its printed lines, and its files."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ..link.receiver import ReceivedMessage, receiver_estimates, score_image, score_text
from ..metrics.text_baseline import text_baseline_sizes
from ..phy.burst_mapping import burst_length
from ..phy.ofdm_params import OfdmParams
from ..tokens.frame import Modality
from .image_files import write_png

__all__ = ["Expected", "message_report", "format_report", "save_message", "write_json"]


@dataclass
class Expected:
    """What the transmitter sends, when the receiving side knows it (for scoring).

    Attributes
    ----------
    text : str, optional
    image : np.ndarray, optional, shape ``(H, W, 3)``, dtype ``uint8``
    text_tokenizer, image_tokenizer : optional
        The sender's tokenizers (text: to compare tokens; image: also to
        compare tokens, omitted without it).
    """

    text: Optional[str] = None
    image: Optional[np.ndarray] = None
    text_tokenizer: object = None
    image_tokenizer: object = None


def _channel_uses(message: ReceivedMessage, params: OfdmParams) -> Optional[int]:
    """Samples on air from the message's first burst to the end of its last gap."""
    spans = [(b.start_sample, b.start_sample + burst_length(len(b.data), b.mcs, params))
             for b in message.bursts if b.start_sample is not None and b.mcs]
    if not spans:
        return None
    return int(max(end for _, end in spans) - min(start for start, _ in spans))


def channel_diagnostics(message: ReceivedMessage, sample_rate_hz: float) -> Dict[str, object]:
    """How the channel behaved during a message's bursts.

    ``evm_db``: mean EVM of the payload symbols (power average);
    ``evm_rise_db``: how much worse the last third of a burst's symbols is
    than the first third, averaged (a moving channel shows a rise);
    ``drift_db``: the largest pilot drift of the bursts (0-2 dB static,
    more when the channel moves within a burst);
    ``bursts_tracked``: bursts whose channel the receiver had to track;
    ``doppler_hz``: the largest Doppler estimate among them (None: none tracked).
    """
    evms = [b.evm_db for b in message.bursts if b.evm_db is not None and b.evm_db.size]
    power = [10.0 ** (e / 10.0) for e in evms]
    rises = [float(np.mean(e[-max(1, e.size // 3):]) - np.mean(e[:max(1, e.size // 3)])) for e in evms]
    dopplers = [b.doppler for b in message.bursts if b.doppler is not None]
    drifts = [b.drift_db for b in message.bursts if b.drift_db is not None]
    return {"evm_db": float(10 * np.log10(np.mean(np.concatenate(power)))) if power else None,
            "evm_rise_db": float(np.mean(rises)) if rises else None,
            "drift_db": max(drifts) if drifts else None,
            "bursts_tracked": sum(1 for b in message.bursts if b.channel_change is not None),
            "doppler_hz": max(dopplers) * sample_rate_hz if dopplers else None}


def message_report(message: ReceivedMessage, sample_rate_hz: float, gap_len: int,
                   expected: Optional[Expected] = None, config: Optional[dict] = None,
                   latency_s: Optional[float] = None) -> Dict[str, object]:
    """The JSON object of one received message.

    Keys: those of :meth:`ReceivedMessage.summary` (``modality``,
    ``recovery``, ``packets_*``, ``received_text_raw``/``received_text``
    ...), plus ``token_error_rate_raw`` and ``token_error_rate`` (from the
    original when ``expected`` has it, else the receiver's estimates;
    ``token_error_rates_from`` says which), ``exact_raw``, ``exact`` and
    ``semantic_similarity`` (text with ``expected.text``), ``psnr_no_recovery_db``, ``psnr_db``,
    ``ms_ssim_no_recovery``, ``ms_ssim`` (images with ``expected.image``),
    ``channel_uses``, ``bits_per_channel_use`` (text), ``baseline`` (text:
    UTF-8 + zlib bytes against the BPE bits, as in ``tokencom loopback``),
    ``cfo_hz``, the channel
    diagnostics of :func:`channel_diagnostics`,
    ``first_sample``, ``latency_s`` (from the first packet to the report),
    ``received_at`` (UTC) and ``config``.
    """
    expected = expected or Expected()
    report = message.summary()
    report.update(receiver_estimates(message))
    report["exact_raw"] = report["exact"] = report["semantic_similarity"] = None
    if message.modality == Modality.TEXT and expected.text is not None:
        report.update(score_text(message, expected.text, expected.text_tokenizer, semantic=True))
    if message.modality == Modality.IMAGE and expected.image is not None:
        report.update(score_image(message, expected.image, expected.image_tokenizer))
    channel_uses = _channel_uses(message, OfdmParams(gap_len=gap_len))
    report["channel_uses"] = channel_uses
    payload = report.get("sent_text") or message.text or ""
    report["bits_per_channel_use"] = (8 * len(payload.encode("utf-8")) / channel_uses
                                      if channel_uses and message.modality == Modality.TEXT
                                      else None)
    # The conventional sender's size for the same text (the original when
    # known, else what arrived): UTF-8 through zlib, against the BPE bits.
    report["baseline"] = (text_baseline_sizes(payload, len(message.frame),
                                              message.frame.bits_per_token)
                          if message.modality == Modality.TEXT and payload
                          and message.frame is not None else None)
    report["cfo_hz"] = None if message.cfo is None else message.cfo * sample_rate_hz
    report.update(channel_diagnostics(message, sample_rate_hz))
    starts = [b.start_sample for b in message.bursts if b.start_sample is not None]
    report["first_sample"] = min(starts) if starts else None
    report["latency_s"] = latency_s
    report["received_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
    report["config"] = config or {}
    return report


def recovering_expert(report: dict) -> Optional[str]:
    """The domain of the expert that recovered a text message (``corpus``),
    None when the general model did or no model ran."""
    domain = report.get("recovered_by")
    return None if domain in (None, "general") else domain


def _expert_note(report: dict) -> str:
    """`` (corpus expert)`` when a domain expert recovered the message, else ``""``."""
    domain = recovering_expert(report)
    return "" if domain is None else f" ({domain} expert)"


def format_report(report: dict, totals: dict) -> str:
    """Lines printed for one message: its content, its stats, the running totals."""
    lines = []
    if report["modality"] == "text":
        lines.append(report["received_text"] if report["received_text"] is not None
                     else f"[text not decoded: {report['problem']}]")
    else:
        size = report.get("image_size")
        lines.append(f"[image: {report['tokens_sent']} tokens, {report['tokenizer'] or '?'} "
                     f"tokenizer" + (f", drawn {size[1]}x{size[0]}" if size else
                                     f"; not drawn: {report['problem']}") + "]")
    snr = "n/a" if report["snr_db"] is None else f"{min(report['snr_db'], 99.9):.1f} dB"
    cfo = "n/a" if report["cfo_hz"] is None else \
        f"{report['cfo_hz'] / 1e3:+.2f} kHz ({report['cfo']:+.5f} fs)"
    estimated = report["token_error_rates_from"] != "original"
    ter = (f"TER {report['token_error_rate_raw']:.3f} -> {report['token_error_rate']:.3f}"
           f"{' (est.)' if estimated else ''}")
    stats = (f"[message {report['message_id']}] packets {report['packets_received']}/"
             f"{report['packets_sent']} (PER {report['packet_error_rate']:.3f}"
             f"{', re-decoded ' + str(report['packets_redecoded']) if report['packets_redecoded'] else ''}"
             f") | {report['recovery']}{_expert_note(report)}: {ter} | {report['mcs']} | "
             f"SNR {snr} | CFO {cfo} | "
             f"{report['reason']}")
    if report.get("evm_db") is not None:
        stats += f" | EVM {report['evm_db']:.1f} dB (rise {report['evm_rise_db']:+.1f} dB)"
    if report.get("drift_db") is not None:
        stats += f" | drift {report['drift_db']:.1f} dB"
    if report.get("doppler_hz") is not None:
        stats += f" | tracked {report['bursts_tracked']}, Doppler ~{report['doppler_hz']:.0f} Hz"
    if report["exact"] is not None:
        stats += f" | exact {report['exact_raw']} -> {report['exact']}"
    if report.get("psnr_db") is not None:
        stats += f" | PSNR {report['psnr_no_recovery_db']:.2f} -> {report['psnr_db']:.2f} dB"
    expected = totals["packets_expected"]
    per = 1.0 - totals["packets_received"] / expected if expected else 0.0
    stats += (f"\n[total] {totals['messages']} messages, packets {totals['packets_received']}/"
              f"{expected} (PER {per:.3f}), {totals['bursts_failed']} bursts failed the CRC, "
              f"{totals['packets_redecoded']} re-decoded")
    if totals.get("zmq_messages_dropped") or totals.get("samples_zeroed"):
        stats += (f", input: {totals.get('zmq_messages_dropped', 0)} malformed messages dropped, "
                  f"{totals.get('samples_zeroed', 0)} non-finite samples zeroed")
    lines.append(stats)
    return "\n".join(lines)


def save_message(folder: Path, report: dict, message: ReceivedMessage) -> List[Path]:
    """Write the message as received and as recovered:
    ``message_<id>_<utc>_received.txt|png`` and ``..._recovered.txt|png``."""
    stamp = report["received_at"].replace(":", "").replace("-", "").split(".")[0]
    base = f"message_{report['message_id']:05d}_{stamp}"
    written = []
    if message.modality == Modality.TEXT:
        for suffix, text in (("received", message.text_raw), ("recovered", message.text)):
            if text is not None:
                path = folder / f"{base}_{suffix}.txt"
                path.write_text(text, encoding="utf-8")
                written.append(path)
    else:
        for suffix, image in (("received", message.image_raw), ("recovered", message.image)):
            if image is not None:
                path = folder / f"{base}_{suffix}.png"
                write_png(path, image)
                written.append(path)
    return written


def write_json(path: Path, reports: List[dict]) -> None:
    """Write the reports as a JSON list, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
