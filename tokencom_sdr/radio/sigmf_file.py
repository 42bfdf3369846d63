"""SigMF recordings of the link: write with annotations, validate, read back.

A recording is a pair ``NAME.sigmf-data`` (raw ``cf32_le`` samples) and
``NAME.sigmf-meta`` (JSON). The metadata holds

* global: datatype, sample rate, hardware (``core:hw``), recorder, the
  ``tokencom`` extension with the MCS and sync threshold needed to decode;
* one capture at sample 0 with the centre frequency and start time;
* one annotation per detected packet: ``core:sample_start``,
  ``core:sample_count`` (preambles, header and payload, without the gap),
  the occupied band edges, and ``tokencom:crc_ok``, ``tokencom:snr_db``,
  ``tokencom:cfo_hz``, ``tokencom:message_id``, ``tokencom:seq``,
  ``tokencom:mcs``, ``tokencom:fec_ok``.

Metadata are written and validated with the ``sigmf`` package (PyPI), so a
recording that this module writes is checked against the SigMF schema before
it is kept.
"""

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .. import __version__
from .sigmf_meta import MAX_META_BYTES, parse_sigmf_meta

EXTENSION = "tokencom"
DATA_SUFFIX = ".sigmf-data"
META_SUFFIX = ".sigmf-meta"
#: Occupied band of the OFDM signal: carriers -26..26 of 64, as a fraction of fs.
OCCUPIED_HALF_BAND = 26.5 / 64


class RecordingError(ValueError):
    """A recording is missing, unreadable, or not something we can replay."""


def recording_paths(path: Union[str, Path]) -> Tuple[Path, Path]:
    """``(data, meta)`` paths for ``NAME``, ``NAME.sigmf-data`` or ``NAME.sigmf-meta``."""
    path = Path(path)
    name = str(path)
    for suffix in (DATA_SUFFIX, META_SUFFIX, ".sigmf"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Path(name + DATA_SUFFIX), Path(name + META_SUFFIX)


@dataclass
class PacketAnnotation:
    """One detected packet in a recording.

    Attributes
    ----------
    start, length : int
        First sample and number of samples of the burst (gap excluded).
    crc_ok : bool
        Whether the link CRC and header checks passed.
    snr_db, cfo_hz : float or None
        Preamble-based estimates.
    message_id, seq : int or None
        From the packet header, when it parsed.
    mcs : str or None
        The burst's MCS (from its PHY header).
    fec_ok : bool or None
        Whether every FEC codeword of the burst converged.
    """

    start: int
    length: int
    crc_ok: bool
    snr_db: Optional[float] = None
    cfo_hz: Optional[float] = None
    message_id: Optional[int] = None
    seq: Optional[int] = None
    mcs: Optional[str] = None
    fec_ok: Optional[bool] = None

    def label(self) -> str:
        if self.message_id is None:
            return "packet (bad CRC)" if not self.crc_ok else "packet"
        return f"msg {self.message_id} pkt {self.seq}"


@dataclass
class RecordingInfo:
    """What a recording says about itself (the parts replay needs)."""

    sample_rate_hz: float
    center_freq_hz: Optional[float]
    datatype: str
    hardware: str = ""
    mcs: Optional[str] = None
    sync_threshold: Optional[float] = None
    annotations: List[Dict[str, Any]] = field(default_factory=list)
    num_samples: int = 0


def _utc_now() -> str:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def write_metadata(data_path: Union[str, Path], sample_rate_hz: float, center_freq_hz: float,
                   hardware: str, annotations: List[PacketAnnotation], mcs: str,
                   sync_threshold: float, description: str = "", start_time: Optional[str] = None,
                   direction: str = "rx") -> Path:
    """Write and validate the ``.sigmf-meta`` beside an existing data file.

    Parameters
    ----------
    data_path : path
        The ``.sigmf-data`` file (``cf32_le`` samples), already complete.
    annotations : list of PacketAnnotation
        Sorted here by start; starts past the end of the data are dropped.
    direction : str
        ``"rx"`` (what a receiver heard) or ``"tx"`` (what was sent).

    Returns
    -------
    Path of the metadata file.

    Raises
    ------
    RecordingError
        The metadata did not validate against the SigMF schema.
    """
    import sigmf
    from sigmf import SigMFFile

    data_path, meta_path = recording_paths(data_path)
    num_samples = data_path.stat().st_size // 8
    global_info = {
        sigmf.DATATYPE_KEY: "cf32_le",
        sigmf.SAMPLE_RATE_KEY: float(sample_rate_hz),
        sigmf.VERSION_KEY: sigmf.__specification__,
        sigmf.NUM_CHANNELS_KEY: 1,
        sigmf.HW_KEY: hardware,
        sigmf.RECORDER_KEY: f"tokencom-sdr {__version__}",
        sigmf.DESCRIPTION_KEY: description or f"TokenCom-SDR {direction.upper()} IQ, OFDM {mcs}",
        sigmf.EXTENSIONS_KEY: [{"name": EXTENSION, "version": __version__, "optional": True}],
        f"{EXTENSION}:mcs": mcs,
        f"{EXTENSION}:sync_threshold": float(sync_threshold),
        f"{EXTENSION}:direction": direction,
    }
    handle = SigMFFile(data_file=str(data_path), global_info=global_info, skip_checksum=False)
    handle.add_capture(0, metadata={sigmf.FREQUENCY_KEY: float(center_freq_hz),
                                    sigmf.DATETIME_KEY: start_time or _utc_now()})
    half_band = OCCUPIED_HALF_BAND * float(sample_rate_hz)
    for note in sorted(annotations, key=lambda a: a.start):
        if note.start < 0 or note.start >= num_samples:
            continue
        length = int(min(note.length, num_samples - note.start))
        meta = {
            sigmf.LABEL_KEY: note.label(),
            sigmf.FREQ_LOWER_EDGE_KEY: float(center_freq_hz) - half_band,
            sigmf.FREQ_UPPER_EDGE_KEY: float(center_freq_hz) + half_band,
            f"{EXTENSION}:crc_ok": bool(note.crc_ok),
        }
        for key, value in (("snr_db", note.snr_db), ("cfo_hz", note.cfo_hz)):
            if value is not None and np.isfinite(value):
                meta[f"{EXTENSION}:{key}"] = round(float(value), 3)
        for key, value in (("message_id", note.message_id), ("seq", note.seq)):
            if value is not None:
                meta[f"{EXTENSION}:{key}"] = int(value)
        if note.mcs is not None:
            meta[f"{EXTENSION}:mcs"] = note.mcs
        if note.fec_ok is not None:
            meta[f"{EXTENSION}:fec_ok"] = bool(note.fec_ok)
        handle.add_annotation(int(note.start), length, metadata=meta)
    try:
        handle.validate()
    except Exception as error:  # sigmf raises its own error types; report them as one
        raise RecordingError(f"{meta_path}: the SigMF metadata do not validate: {error}") from None
    handle.tofile(str(meta_path), overwrite=True)
    return meta_path


def write_recording(path: Union[str, Path], iq: np.ndarray, **metadata) -> Path:
    """Write samples and their metadata in one go (e.g. the TX's own IQ).

    ``metadata`` are the keyword arguments of :func:`write_metadata`.
    """
    data_path, _ = recording_paths(path)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(iq, dtype="<c8").tofile(data_path)
    return write_metadata(data_path, **metadata)


def validate_recording(path: Union[str, Path]) -> None:
    """Check a recording's metadata against the SigMF schema and its data file.

    Raises
    ------
    RecordingError
        Missing files, or a metadata/schema/checksum problem.
    """
    from sigmf import sigmffile

    data_path, meta_path = recording_paths(path)
    for p in (meta_path, data_path):
        if not p.is_file():
            raise RecordingError(f"{p}: no such file")
    try:
        handle = sigmffile.fromfile(str(meta_path))
        handle.validate()
    except Exception as error:  # sigmf's errors: schema, checksum, JSON
        raise RecordingError(f"{meta_path}: not a valid SigMF recording: {error}") from None


def read_recording(path: Union[str, Path]) -> Tuple[np.ndarray, RecordingInfo]:
    """Samples (memory-mapped when stored as ``cf32_le``) and what replay needs.

    Returns
    -------
    samples : np.ndarray, shape ``(n,)``, dtype ``complex64``
    info : RecordingInfo

    Raises
    ------
    RecordingError
        Missing files, metadata that is not UTF-8 JSON or has a field of the
        wrong type (:func:`~.sigmf_meta.parse_sigmf_meta`: one line naming
        the file and the field), or a datatype other than ``cf32_le`` /
        ``ci16_le`` / ``cf32_be`` with one channel.
    """
    data_path, meta_path = recording_paths(path)
    if not meta_path.is_file():
        raise RecordingError(f"{meta_path}: no such file (give the .sigmf-meta of a recording)")
    if not data_path.is_file():
        raise RecordingError(f"{data_path}: no such file (the recording's samples are missing)")
    try:
        with open(meta_path, "rb") as file:
            data = file.read(MAX_META_BYTES + 1)
    except OSError as error:
        raise RecordingError(f"{meta_path}: {error.strerror or error}") from None
    meta = parse_sigmf_meta(data, str(meta_path), RecordingError)
    datatype = meta.datatype
    if meta.num_channels != 1:
        raise RecordingError(f"{meta_path}: global.core:num_channels: {meta.num_channels} "
                             f"channels; replay needs 1")
    if datatype == "cf32_le":
        samples = np.memmap(data_path, dtype="<c8", mode="r") if data_path.stat().st_size else \
            np.zeros(0, dtype=np.complex64)
    elif datatype == "cf32_be":
        samples = np.fromfile(data_path, dtype=">c8").astype(np.complex64)
    elif datatype == "ci16_le":
        raw = np.fromfile(data_path, dtype="<i2").astype(np.float32) / 32768.0
        samples = (raw[0::2] + 1j * raw[1::2]).astype(np.complex64)
    else:
        raise RecordingError(f"{meta_path}: datatype {datatype!r} is not supported for replay "
                             f"(cf32_le, cf32_be, ci16_le)")
    info = RecordingInfo(
        sample_rate_hz=meta.sample_rate_hz,
        center_freq_hz=meta.center_freq_hz,
        datatype=datatype,
        hardware=meta.hardware,
        mcs=meta.mcs,
        sync_threshold=meta.sync_threshold,
        annotations=meta.annotations,
        num_samples=len(samples),
    )
    return samples, info
