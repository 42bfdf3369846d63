"""One sweep point through the real chain: a message or an image sent once by
:func:`~tokencom_sdr.app.loopback.run_text_loopback` or
:func:`~tokencom_sdr.app.loopback.run_image_loopback` (tokens -> packets ->
GNU Radio OFDM TX -> gr-channels -> OFDM RX -> the receiver library), and
the flat result row the sweep stores.

Points are independent and reproducible: the channel's noise and fading
seeds come from the point (:func:`channel_seed`), never from the order or
the process they run in, so a point gives the same row in a serial run and on
any Dask worker. Recovery modes, MCSs, aggregations and packet sizes of one
(source, SNR, channel, seed) share the noise seed, so their curves are paired.

Sources, tokenizers and models are loaded once per process and kept.
"""

from __future__ import annotations

import functools
import os
import time
import zlib
from typing import Dict, List, Optional

import numpy as np

from ..app.loopback import LinkConfig, run_image_loopback, run_text_loopback
from ..data.heldout_messages import heldout_messages
from ..data.image_data import load_image_source
from ..link import make_aggregation, packetize
from ..metrics.image_quality import psnr
from .conventional_link import jpeg_over_link, text_over_link
from .sweep_config import IMAGE_BASELINES, TEXT_BASELINES, SweepConfig, SweepPoint

__all__ = ["run_point", "channel_seed", "describe", "RUN_COLUMN_PREFIX", "point_source_text"]

#: Columns that describe the run rather than the result (wall time, process):
#: they differ between runs of the same point and are left out of comparisons.
RUN_COLUMN_PREFIX = "run_"

#: Scalar fields copied from the loopback report into every row.
_LINK_FIELDS = ("tokens_sent", "packets_sent", "packets_received", "packets_redecoded", "packet_error_rate",
                "token_erasure_rate", "token_error_rate_raw", "token_error_rate", "channel_uses")
_TEXT_FIELDS = ("exact_raw", "exact", "semantic_similarity")
_IMAGE_FIELDS = ("bits_per_pixel", "psnr_db", "ms_ssim", "psnr_no_recovery_db", "ms_ssim_no_recovery",
                 "psnr_tokens_only_db", "ms_ssim_tokens_only", "psnr_jpeg_same_bpp_db",
                 "ms_ssim_jpeg_same_bpp", "jpeg_bytes")


def channel_seed(point: SweepPoint) -> int:
    """Noise and fading seed of a point: a CRC of what the channel depends on
    (stable across processes, unlike ``hash``), independent of MCS,
    aggregation, packet size, loss model and recovery so that those are
    compared on the same noise. It seeds the packet-loss trace too."""
    key = f"{point.seed}|{point.modality}|{point.source}|{point.tokenizer}|{point.snr_db!r}|{point.channel}"
    return zlib.crc32(key.encode("utf-8")) & 0x7FFFFFFF


@functools.lru_cache(maxsize=4)
def _heldout_messages(count: int, seed: int) -> List[str]:
    return heldout_messages(count, seed=seed)


@functools.lru_cache(maxsize=1)
def _text_tokenizer():
    from ..tokens.text_bpe import TextTokenizer

    return TextTokenizer.default()


@functools.lru_cache(maxsize=1)
def _text_recovery():
    from ..context.text_recovery import TextRecovery

    return TextRecovery()


@functools.lru_cache(maxsize=2)
def _image_tokenizer(name: str):
    from ..tokens.image_vq import ImageTokenizer

    return ImageTokenizer.default(name)


@functools.lru_cache(maxsize=16)
def _image(source: str, max_side: int) -> np.ndarray:
    return load_image_source(source, max_side)


def point_source_text(point: SweepPoint, config: SweepConfig) -> str:
    """The message a text point sends (``heldout#i``: the i-th held-out message)."""
    index = int(point.source.split("#", 1)[1])
    return _heldout_messages(config.text_messages, config.text_message_seed)[index]


def _link_config(point: SweepPoint, config: SweepConfig) -> LinkConfig:
    seed = channel_seed(point)
    return LinkConfig(snr_db=point.snr_db, cfo=config.cfo, mcs=point.mcs, aggregation=point.aggregation,
                      tokens_per_packet=point.tokens_per_packet, seed=seed, recovery=point.recovery,
                      fading=config.channel_model(point.channel).fading(seed),
                      loss=config.loss_model(point.loss_model))


def _scalar(value):
    """numpy scalars as plain Python values (for Parquet, CSV and equality)."""
    if isinstance(value, np.generic):
        return value.item()
    return value



def _token_link_fields(report: Dict, bits_per_token: int) -> Dict[str, object]:
    fields = {k: report[k] for k in _LINK_FIELDS}
    payload_bits = report["tokens_sent"] * bits_per_token
    fields.update(bits_per_token=bits_per_token, payload_bits=payload_bits,
                  goodput_bits_per_channel_use=payload_bits * (1.0 - report["token_erasure_rate"])
                  / report["channel_uses"])
    return fields


def _text_point(point: SweepPoint, config: SweepConfig, link: LinkConfig) -> Dict[str, object]:
    tokenizer = _text_tokenizer()
    context = _text_recovery() if point.recovery in ("fill", "soft") else None
    report = run_text_loopback(point_source_text(point, config), link, tokenizer,
                               text_recovery=context, semantic=config.semantic)
    fields = _token_link_fields(report, tokenizer.bits_per_token)
    fields.update({k: report.get(k) for k in _TEXT_FIELDS})
    fields.update(source_units=report["baseline"]["utf8_bytes"], source_unit="utf8_byte",
                  zlib_bytes=report["baseline"]["zlib_bytes"])
    return fields


def _image_point(point: SweepPoint, config: SweepConfig, link: LinkConfig) -> Dict[str, object]:
    image = _image(point.source, config.image_max_side)
    report = run_image_loopback(image, link, _image_tokenizer(point.tokenizer), recovery=point.recovery)
    fields = _token_link_fields(report, report["bits_per_token"])
    fields.update({k: report.get(k) for k in _IMAGE_FIELDS})
    fields.update(source_units=int(image.shape[0] * image.shape[1]), source_unit="pixel")
    return fields


def _conventional_point(point: SweepPoint, config: SweepConfig, link: LinkConfig) -> Dict[str, object]:
    """A JPEG, UTF-8 or zlib file in CRC packets as large as the token
    packets this point stands beside (:mod:`.conventional_link`)."""
    aggregation = make_aggregation(point.aggregation, point.tokens_per_packet)
    if point.modality == "text":
        text = point_source_text(point, config)
        token_packets = packetize(_text_tokenizer().encode_frame(text), link.message_id, aggregation)
        result = text_over_link(text, point.recovery, max(map(len, token_packets)), link)
        extra = {"exact_raw": result["exact"], "exact": result["exact"],
                 "source_units": len(text.encode("utf-8")), "source_unit": "utf8_byte"}
        if config.semantic:
            from ..metrics.semantic import semantic_similarity_or_none

            extra["semantic_similarity"] = semantic_similarity_or_none(text, result["received_text"])
    else:
        image = _image(point.source, config.image_max_side)
        tokenizer = _image_tokenizer(point.tokenizer)
        frame = tokenizer.encode_frame(image)
        token_packets = packetize(frame, link.message_id, aggregation)
        result = jpeg_over_link(image, len(token_packets), max(map(len, token_packets)), link)
        clean = tokenizer.decode_frame(frame, image.shape[:2])
        extra = {k: result[k] for k in ("psnr_db", "ms_ssim", "psnr_jpeg_error_free_db", "jpeg_quality")}
        extra.update(psnr_tokens_only_db=psnr(image, clean),
                     source_units=int(image.shape[0] * image.shape[1]), source_unit="pixel")
    fields = {k: result[k] for k in ("packets_sent", "packets_received", "channel_uses", "payload_bits")}
    fields["file_bytes"] = result["payload_bits"] // 8
    fields.update(packet_error_rate=1.0 - result["packets_received"] / result["packets_sent"],
                  goodput_bits_per_channel_use=8 * result["bytes_delivered"] / result["channel_uses"])
    fields.update(extra)
    return fields


def run_point(point: SweepPoint, config: SweepConfig) -> Dict[str, object]:
    """Send one point through the chain and return its row.

    Returns
    -------
    dict
        ``point_id``, the point's fields, the link fields (``tokens_sent``,
        ``packets_sent``, ``packets_received`` (CRC-good from the radio),
        ``packets_redecoded``, ``packet_error_rate``, ``token_erasure_rate``,
        ``token_error_rate_raw``/``token_error_rate`` (before / after
        recovery), ``channel_uses``), ``bits_per_token``, ``payload_bits``
        (token bits of the message), ``goodput_bits_per_channel_use`` (token
        bits that arrived in CRC-good packets, re-decoded ones included, per
        channel use), ``source_units`` and ``source_unit`` (UTF-8 bytes of a
        message or pixels of an image); text: ``exact_raw``, ``exact``,
        ``semantic_similarity`` (None unless the config asks for it),
        ``zlib_bytes``; images: PSNR and MS-SSIM after recovery, without
        recovery, of the error-free tokens and of a JPEG at the same bits
        (see :func:`~tokencom_sdr.app.loopback.run_image_loopback`);
        ``run_wall_s`` and ``run_pid``. A conventional baseline's row
        (``recovery`` ``jpeg``, ``utf8`` or ``zlib``) has the packet fields,
        ``payload_bits`` and ``file_bytes`` (the file's), goodput from the file bytes that
        arrived, ``exact``, or ``psnr_db``/``ms_ssim`` of what a receiver
        shows with ``psnr_tokens_only_db`` and ``psnr_jpeg_error_free_db``
        beside them; no token fields.
    """
    import torch
    from threadpoolctl import threadpool_limits

    # One thread per point: the Dask workers are one process per core, and a
    # serial run must compute exactly what a worker does. That holds for
    # BLAS too (numpy's and scipy's OpenBLAS, torch's OpenMP), which Dask's
    # nannies limit by environment: in a serial run, OpenBLAS's idle worker
    # thread spun in sched_yield for about 45 ms of CPU per 110 ms point.
    # (Limited at every point: a library may first load during one.)
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        return _run_point(point, config)


def _run_point(point: SweepPoint, config: SweepConfig) -> Dict[str, object]:
    start = time.perf_counter()
    link = _link_config(point, config)
    if point.recovery in TEXT_BASELINES + IMAGE_BASELINES:
        fields = _conventional_point(point, config, link)
    elif point.modality == "text":
        fields = _text_point(point, config, link)
    else:
        fields = _image_point(point, config, link)
    row: Dict[str, object] = {"point_id": point.point_id()}
    row.update({k: getattr(point, k) for k in point.__dataclass_fields__})
    row.update(fields)
    row.update({f"{RUN_COLUMN_PREFIX}wall_s": time.perf_counter() - start,
                f"{RUN_COLUMN_PREFIX}pid": os.getpid()})
    return {k: _scalar(v) for k, v in row.items()}


def describe(row: Optional[Dict]) -> str:
    """A short progress label of a finished row."""
    if row is None:
        return ""
    return f"{row['modality']} {row['snr_db']:g} dB {row['mcs']} {row['recovery']}"
