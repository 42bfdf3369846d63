"""The SigMF backend: a recording file as a radio.

As a source, the recording is played once (then the stream ends, so the
receiver stops at its end); as a sink, every message's IQ is collected and
written as a recording when the transmitter closes. The profile's ``path``
(set with ``-a FILE``) names the recording: ``NAME.sigmf-meta`` or
``NAME.sigmf-data`` (both files are read or written). A relative path is
taken from the current directory, not from the profile's folder (profiles
also ship inside the package, where nothing should be written).

So ``tokencom tx --radio sigmf -a out/hello.sigmf-data --text hello`` writes
a recording and ``tokencom rx --radio sigmf -a out/hello.sigmf-meta`` decodes
it, with the same receiver as a live radio.
"""

from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np

from .array_source import ArraySource
from .backend import Log, RadioBackend, TxSink
from .checks import ProfileError
from .sigmf_file import DATA_SUFFIX, META_SUFFIX, read_recording, recording_paths, write_recording

__all__ = ["SigmfBackend", "RecordingSink", "profile_fields_from_recording"]


def profile_fields_from_recording(path: Union[str, Path]) -> Dict[str, Any]:
    """Profile fields a recording states about itself: ``sample_rate_hz``,
    ``center_freq_hz`` and, when recorded, ``sync_threshold``.

    A receiver replaying the recording overrides its profile with these, so
    its Hz figures and detection threshold match what was recorded.

    Raises
    ------
    RecordingError
        Missing files or unreadable metadata.
    """
    _, info = read_recording(Path(path).expanduser())
    fields: Dict[str, Any] = {"sample_rate_hz": info.sample_rate_hz,
                              "center_freq_hz": info.center_freq_hz or 0.0}
    if info.sync_threshold is not None:
        fields["sync_threshold"] = info.sync_threshold
    return fields


class RecordingSink(TxSink):
    """Collects the transmitter's IQ and writes it as a SigMF recording on :meth:`close`.

    Parameters
    ----------
    profile : RadioProfile
        A validated ``sigmf`` profile: ``path``, the sample rate and centre
        frequency, the MCS and sync threshold go into the metadata.
    log : callable
        Told where the recording went.
    hardware : str
        ``core:hw`` of the recording.

    Attributes
    ----------
    chunks : list of np.ndarray
        One ``complex64`` array per :meth:`send`.
    written : Path or None
        The metadata file, once written.
    """

    def __init__(self, profile, log: Log, hardware: str):
        self.profile = profile
        self.log = log
        self.hardware = hardware
        self.chunks: List[np.ndarray] = []
        self.written = None

    def send(self, iq: np.ndarray) -> None:
        self.chunks.append(np.asarray(iq, dtype=np.complex64))

    def close(self, interrupted: bool = False) -> None:
        """Write the recording (also when interrupted: each message sent is whole)."""
        if not self.chunks:
            self.log("sigmf: nothing was sent; no recording written")
            return
        p = self.profile
        self.written = write_recording(
            Path(p.path).expanduser(), np.concatenate(self.chunks),
            sample_rate_hz=p.sample_rate_hz, center_freq_hz=p.center_freq_hz,
            hardware=self.hardware, annotations=[], mcs=p.mcs,
            sync_threshold=p.sync_threshold, direction="tx")
        self.log(f"sigmf: wrote {recording_paths(self.written)[0]} and {self.written}")


class SigmfBackend(RadioBackend):
    """A SigMF recording played as a source and written as a sink; ``-a`` sets ``path``."""

    name = "sigmf"
    fields = frozenset({"path", "sample_rate_hz", "center_freq_hz"})
    address_field = "path"
    finite_source = True

    def validate(self, profile, label: str) -> None:
        path = profile.path
        if not path:
            raise ProfileError(label, "path", f"missing; give the recording as NAME{META_SUFFIX} "
                               f"or NAME{DATA_SUFFIX} (or -a FILE)")
        if not path.endswith((META_SUFFIX, DATA_SUFFIX)):
            raise ProfileError(label, "path", f"{path!r} is not a SigMF file name; it must end "
                               f"in {META_SUFFIX} or {DATA_SUFFIX}")

    def hardware_label(self, profile) -> str:
        return f"SigMF recording {profile.path}"

    def make_source(self, profile) -> ArraySource:
        """The recording's samples, played once and followed by a few zeros.

        Raises
        ------
        RecordingError
            The recording is missing or not readable.
        """
        samples, _ = read_recording(Path(profile.path).expanduser())
        return ArraySource(samples)

    def make_sink(self, profile, log: Log) -> RecordingSink:
        return RecordingSink(profile, log, self.hardware_label(profile))
