"""An image over the air, in loopback: image -> VQ tokens -> interleaved
packets -> OFDM -> software channel -> OFDM -> packets with erasures ->
context recovery -> image, with quality metrics and pictures.

The packet headers carry the token grid's ``(rows, cols)``; the original
pixel size (at most ``f - 1`` pixels less per side) is side information the
receiver is given here, like the tokenizer choice.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from ..context.image_maskgit import ImageContextModel
from ..context.image_recovery import ImageRecovery
from ..link import FrameGeometry, depacketize, make_aggregation, packetize
from ..metrics.image_quality import ms_ssim, psnr
from ..data.image_data import to_rgb_uint8
from ..tokens.image_vq import ImageTokenizer
from ..phy.modem import run_phy_loopback
from ..metrics.token_errors import token_error_rate
from .text_loopback import LinkConfig

__all__ = ["run_image_loopback", "save_comparison"]


def save_comparison(path: Union[str, Path], panels: Dict[str, np.ndarray], title: str = "") -> Path:
    """Write a side-by-side figure of equally sized images with captions."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panels)
    h, w = next(iter(panels.values())).shape[:2]
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2 * h / w + 0.6), squeeze=False)
    for ax, (caption, image) in zip(axes[0], panels.items()):
        ax.imshow(image)
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image
    Image.fromarray(image).save(path)


def run_image_loopback(image: np.ndarray, config: Optional[LinkConfig] = None,
                       tokenizer: Union[str, ImageTokenizer] = "standard",
                       recovery: str = "context", out_dir: Union[str, Path, None] = None,
                       context_model: Optional[ImageContextModel] = None, steps: int = 2,
                       soft: bool = True) -> Dict[str, object]:
    """Send ``image`` through the full chain and report what arrived.

    Parameters
    ----------
    image : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
    config : LinkConfig
        Channel, modulation, aggregation and tokens per packet.
    tokenizer : ``standard``, ``low-rate`` or an ImageTokenizer
    recovery : ``none``, ``copy`` or ``context``
    out_dir : path, optional
        Where to write ``received.png`` (the receiver's output),
        ``no_recovery.png``, ``tokens_only.png`` (error-free tokens) and
        ``comparison.png`` (original | no recovery | recovered | error-free
        tokens).
    steps : int
        MaskGIT rounds for ``context``.
    soft : bool
        ``context`` draws the expected codeword of its beliefs.

    Returns
    -------
    dict
        The JSON report of ``tokencom loopback --image``: ``modality``,
        ``tokenizer``, ``recovery``, ``image_size``, ``grid``, ``snr_db``,
        ``tokens_sent``, ``bits_per_token``, ``bits_per_pixel``,
        ``packets_sent``, ``packets_received``, ``packet_error_rate``,
        ``token_error_rate`` (before recovery), ``token_erasure_rate``,
        ``token_error_rate_after_recovery``, ``channel_uses``,
        ``psnr_db``, ``ms_ssim`` (recovered image), ``psnr_no_recovery_db``,
        ``ms_ssim_no_recovery``, ``psnr_tokens_only_db``,
        ``ms_ssim_tokens_only``, ``latency_s`` and ``config``; ``files``
        when ``out_dir`` is given.
    """
    config = config or LinkConfig()
    tok = tokenizer if isinstance(tokenizer, ImageTokenizer) else ImageTokenizer.default(tokenizer)
    image = to_rgb_uint8(image)
    size = image.shape[:2]

    t0 = time.perf_counter()
    frame = tok.encode_frame(image)
    aggregation = make_aggregation(config.aggregation, config.tokens_per_packet)
    packets = packetize(frame, config.message_id, aggregation)
    t1 = time.perf_counter()
    phy = run_phy_loopback(packets, config.mcs, config.make_channel(),
                           config.sync_threshold)
    t2 = time.perf_counter()
    reassembly = depacketize([pdu.data for pdu in phy.received], config.message_id,
                             expected=FrameGeometry.from_frame(frame, aggregation))
    received = reassembly.frame
    fixer = ImageRecovery(recovery, tok, context_model, steps=steps)
    result = fixer.recover(received)
    t3 = time.perf_counter()
    output = fixer.draw(result, size, soft=soft)
    t4 = time.perf_counter()

    # References: the error-free tokens, and the same reception without recovery.
    clean = tok.decode_frame(frame, size)
    if recovery == "none":
        unrecovered = output
    else:
        unrecovered = ImageRecovery("none", tok).draw(
            ImageRecovery("none", tok).recover(received), size)

    stats = reassembly.stats
    report = {
        "modality": "image",
        "tokenizer": tok.name,
        "recovery": recovery,
        "image_size": [int(size[0]), int(size[1])],
        "grid": list(frame.shape),
        "snr_db": config.snr_db,
        "tokens_sent": len(frame),
        "bits_per_token": frame.bits_per_token,
        "bits_per_pixel": tok.bits_per_pixel(size),
        "packets_sent": len(packets),
        "packets_received": stats.packets_received,
        "packet_error_rate": 1.0 - stats.packets_received / len(packets),
        "pdus_rejected": stats.num_malformed,
        "token_error_rate": token_error_rate(frame, received),
        "token_erasure_rate": float(np.mean(received.erased)),
        "token_error_rate_after_recovery": float(np.mean(result.frame.ids != frame.ids)),
        "channel_uses": phy.channel_uses,
        "psnr_db": psnr(image, output),
        "ms_ssim": ms_ssim(image, output),
        "psnr_no_recovery_db": psnr(image, unrecovered),
        "ms_ssim_no_recovery": ms_ssim(image, unrecovered),
        "psnr_tokens_only_db": psnr(image, clean),
        "ms_ssim_tokens_only": ms_ssim(image, clean),
        "latency_s": {"encode": t1 - t0, "phy": t2 - t1, "recovery": t3 - t2,
                      "decode": t4 - t3},
        "config": asdict(config) | {"taps": [str(complex(t)) for t in config.taps]},
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {"received": out_dir / "received.png", "no_recovery": out_dir / "no_recovery.png",
                 "tokens_only": out_dir / "tokens_only.png",
                 "comparison": out_dir / "comparison.png"}
        _write_png(files["received"], output)
        _write_png(files["no_recovery"], unrecovered)
        _write_png(files["tokens_only"], clean)
        save_comparison(files["comparison"], {
            "original": image,
            f"no recovery ({report['psnr_no_recovery_db']:.1f} dB)": unrecovered,
            f"{recovery} ({report['psnr_db']:.1f} dB)": output,
            f"error-free tokens ({report['psnr_tokens_only_db']:.1f} dB)": clean,
        }, title=f"{tok.name} tokens, {report['bits_per_pixel']:.3f} bpp, SNR "
                 f"{config.snr_db:g} dB, {report['packets_received']}/{report['packets_sent']} "
                 f"packets, token erasures {report['token_erasure_rate']:.1%}")
        report["files"] = {k: str(v) for k, v in files.items()}
    return report
