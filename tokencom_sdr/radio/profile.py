"""Radio profiles: YAML files, loaded and validated.

A profile says which backend carries the IQ and how to set it up: centre
frequency, sample rate, RF bandwidth and gains, the device URI or arguments,
the MCS the transmitter uses (the receiver reads it from each burst's
header) and the burst padding. Every field is checked when the
profile is loaded, so a wrong value fails at once with a message that names
the field, the limit and the device, instead of deep inside a driver.

The profiles ship inside the package (``tokencom_sdr/radio/profiles/``; the
repository shows them as ``hw_configs/``); ``--radio NAME`` also looks in
``$TOKENCOM_HW_CONFIGS``, ``./hw_configs`` and ``~/.config/tokencom/profiles``
first (see :func:`profile_search_path`), and takes a YAML file's path.

Backends and their fields (``*`` = required; all others have defaults):

=========  ===================================================================
backend    fields
=========  ===================================================================
pluto      uri, center_freq_hz, sample_rate_hz, rf_bandwidth_hz, tx_gain_db,
           rx_gain_db, rx_gain_mode, extended_tuning, fir_filter, buffer_size
usrp       args, model, center_freq_hz, sample_rate_hz, rf_bandwidth_hz,
           tx_gain_db, rx_gain_db, tx_antenna, rx_antenna, master_clock_rate_hz
zmq        address, sample_rate_hz, center_freq_hz, hwm, wait_timeout_s,
           drain_timeout_s
sigmf      path*, sample_rate_hz, center_freq_hz
loopback   snr_db, cfo, sco_ppm, taps, seed, sample_rate_hz, center_freq_hz
all        backend*, name, description, mcs, sync_threshold, tx_amplitude,
           gap_len, burst_padding, message_timeout_s
=========  ===================================================================

Each backend (:mod:`.backends`) lists its fields and checks them against its
device's limits; the limits are documented in the backend's module
(:mod:`.pluto`, :mod:`.usrp`, :mod:`.zmq_radio`, :mod:`.sigmf_backend`,
:mod:`.loopback`). This module does the checks common to all.

Overrides in the UHD style (``-a/--args``, ``-f``, ``-r``, ``-g``) replace
fields before validation; see :func:`apply_overrides`.
"""

import dataclasses
import difflib
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..phy.mcs import MCS_NAMES
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD
from .backend import RadioBackend
from .backends import BACKENDS, backend_names, get_backend
from .checks import ProfileError, parse_si, shown_value
from .profile_yaml import ProfileYamlError, read_profile_yaml
from .sigmf_backend import SigmfBackend, profile_fields_from_recording
from .sigmf_file import recording_paths
from .zmq_radio import parse_zmq_address

__all__ = ["RadioProfile", "ProfileError", "parse_si", "parse_zmq_address", "load_profile",
           "profile_from_dict", "validate_profile", "find_profile", "available_profiles",
           "profile_search_path", "overrides_from_args", "apply_overrides", "replay_profile",
           "HW_CONFIGS_ENV", "PACKAGE_PROFILES", "USER_PROFILES"]

#: Where ``--radio NAME`` looks for ``NAME.yaml``, after an explicit path:
#: $TOKENCOM_HW_CONFIGS, ./hw_configs, ~/.config/tokencom/profiles (your own
#: profiles), then the profiles that ship with the package.
HW_CONFIGS_ENV = "TOKENCOM_HW_CONFIGS"
USER_PROFILES = Path("~/.config/tokencom/profiles")
PACKAGE_PROFILES = Path(__file__).parent / "profiles"


@dataclasses.dataclass
class RadioProfile:
    """A validated radio profile. Fields that do not apply to the backend
    keep their defaults and are ignored.

    Frequencies and rates are in Hz, gains in dB. ``tx_gain_db`` follows each
    device's own convention: for the Pluto it is the TX hardware gain
    -89.75..0 (minus the attenuation), for a USRP the PGA gain 0..max.
    """

    backend: str
    name: str = ""
    description: str = ""
    # --- link and PHY
    mcs: str = "qpsk-1/2"
    sync_threshold: float = DEFAULT_SYNC_THRESHOLD
    tx_amplitude: float = 0.3
    gap_len: int = 400
    burst_padding: int = 0
    message_timeout_s: float = 1.0
    # --- RF
    center_freq_hz: float = 2.45e9
    sample_rate_hz: float = 2.5e6
    rf_bandwidth_hz: float = 2.5e6
    tx_gain_db: float = 0.0
    rx_gain_db: float = 30.0
    # --- Pluto
    uri: str = "ip:192.168.2.1"
    rx_gain_mode: str = "manual"
    extended_tuning: bool = False
    fir_filter: str = "auto"
    buffer_size: int = 32768
    # --- USRP
    args: str = "type=b200"
    model: str = "b210"
    tx_antenna: str = "TX/RX"
    rx_antenna: str = "RX2"
    master_clock_rate_hz: Optional[float] = None
    # --- ZMQ
    address: str = "tcp://127.0.0.1:5555"
    hwm: int = 1000
    wait_timeout_s: float = 60.0
    drain_timeout_s: float = 30.0
    # --- SigMF recording
    path: str = ""
    # --- loopback (software channel)
    snr_db: float = 25.0
    cfo: float = 0.0
    sco_ppm: float = 0.0
    taps: List[complex] = dataclasses.field(default_factory=lambda: [1.0 + 0j])
    seed: int = 0
    #: Where the profile came from (a file path, or "<dict>").
    source: str = "<dict>"

    @property
    def device_address(self) -> str:
        """URI, device args, endpoint or file: what ``-a/--args`` sets ('' if none)."""
        return get_backend(self.backend).device_address(self)

    def to_dict(self) -> Dict[str, Any]:
        """The fields that apply to this backend, JSON-friendly."""
        keys = ["backend", "name"] + sorted(_COMMON_FIELDS - {"backend", "name", "description"}) \
            + sorted(get_backend(self.backend).fields)
        out = {}
        for key in keys:
            value = getattr(self, key)
            if key == "taps":
                value = [str(complex(t)) for t in value]
            out[key] = value
        return out

    def hardware_label(self) -> str:
        """Short description of the hardware for recordings (SigMF core:hw)."""
        return get_backend(self.backend).hardware_label(self)


_COMMON_FIELDS = {"backend", "name", "description", "mcs", "sync_threshold", "tx_amplitude",
                  "gap_len", "burst_padding", "message_timeout_s"}

_FLOAT_FIELDS = {"sync_threshold", "tx_amplitude", "message_timeout_s", "center_freq_hz",
                 "sample_rate_hz", "rf_bandwidth_hz", "tx_gain_db", "rx_gain_db",
                 "master_clock_rate_hz", "wait_timeout_s", "drain_timeout_s", "snr_db", "cfo",
                 "sco_ppm"}
_INT_FIELDS = {"gap_len", "burst_padding", "buffer_size", "hwm", "seed"}
_BOOL_FIELDS = {"extended_tuning"}
_STR_FIELDS = {"backend", "name", "description", "mcs", "uri", "rx_gain_mode", "fir_filter",
               "args", "model", "tx_antenna", "rx_antenna", "address", "path"}


def _backend_of(label: str, name: Any) -> RadioBackend:
    """The backend called ``name``, or a ProfileError naming the ``backend`` field."""
    if name is None:
        raise ProfileError(label, "backend", f"missing; choose one of {', '.join(backend_names())}")
    if not isinstance(name, str) or name not in BACKENDS:
        raise ProfileError(label, "backend", f"unknown backend {shown_value(name)}; choose one of "
                           f"{', '.join(backend_names())}")
    return get_backend(name)


# ----------------------------------------------------------------------------- loading


def profile_search_path() -> List[Path]:
    """Folders searched for ``NAME.yaml``, in order: ``$TOKENCOM_HW_CONFIGS``,
    ``./hw_configs``, ``~/.config/tokencom/profiles``, the package's profiles.

    A folder reached twice (``./hw_configs`` in the repository is a link to
    the package's profiles) is listed once, where it is first met.
    """
    folders = []
    if os.environ.get(HW_CONFIGS_ENV):
        folders.append(Path(os.environ[HW_CONFIGS_ENV]).expanduser())
    folders += [Path.cwd() / "hw_configs", USER_PROFILES.expanduser(), PACKAGE_PROFILES]
    unique, seen = [], set()
    for folder in folders:
        key = folder.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(folder)
    return unique


def available_profiles() -> List[str]:
    """Names of the profiles found on :func:`profile_search_path`."""
    names = set()
    for folder in profile_search_path():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
            names.update(p.stem for p in folder.glob("*.yml"))
    return sorted(names)


def find_profile(name_or_path: Union[str, os.PathLike]) -> Path:
    """Resolve ``--radio`` to a file: a path to a YAML file, or a profile name
    looked up on :func:`profile_search_path`.

    Raises
    ------
    ProfileError
        No such file, or no profile of that name (with the closest name).
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml") or os.sep in text:
        if path.is_file():
            return path
        raise ProfileError(text, None, "no such profile file")
    for folder in profile_search_path():
        for suffix in (".yaml", ".yml"):
            candidate = folder / f"{text}{suffix}"
            if candidate.is_file():
                return candidate
    known = available_profiles()
    close = difflib.get_close_matches(text, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ProfileError(text, None, f"unknown radio profile{hint}; known: {', '.join(known) or 'none'}"
                       f" (searched {', '.join(str(f) for f in profile_search_path())})")


def load_profile(name_or_path: Union[str, os.PathLike],
                 overrides: Optional[Dict[str, Any]] = None) -> RadioProfile:
    """Read, override and validate a profile.

    Parameters
    ----------
    name_or_path : str or path
        ``"pluto"`` (looked up on :func:`profile_search_path`) or a YAML file.
    overrides : dict, optional
        Field -> value, applied after reading and before validation (see
        :func:`apply_overrides` for the command-line flags).

    Raises
    ------
    ProfileError
        With a message naming the profile, the field and the problem.
    """
    path = find_profile(name_or_path)
    try:
        raw = read_profile_yaml(path)
    except (ProfileYamlError, OSError) as error:
        raise ProfileError(str(path), None, str(error)) from None
    if raw is None:
        raise ProfileError(str(path), None, "the file is empty")
    if not isinstance(raw, dict):
        raise ProfileError(str(path), None, f"expected a mapping of fields, got {type(raw).__name__}")
    raw = dict(raw)
    raw.setdefault("name", path.stem)
    return profile_from_dict(raw, source=str(path), overrides=overrides)


def profile_from_dict(raw: Dict[str, Any], source: str = "<dict>",
                      overrides: Optional[Dict[str, Any]] = None) -> RadioProfile:
    """Validate a mapping of fields (as read from YAML) into a profile.

    Raises
    ------
    ProfileError
        An unknown backend or field, a field of another backend, or a value
        out of range.
    """
    name = raw.get("name")
    label = name if isinstance(name, str) and name else source
    fields = dict(raw)
    fields.update({k: v for k, v in (overrides or {}).items() if v is not None})
    backend = _backend_of(label, fields.get("backend"))
    allowed = _COMMON_FIELDS | backend.fields
    for key in fields:
        if key not in allowed:
            everything = _COMMON_FIELDS.union(*(b.fields for b in BACKENDS.values()))
            if key in everything:
                raise ProfileError(label, key, f"does not apply to the {backend.name} backend")
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProfileError(label, str(key), f"unknown field{hint}")
    values = {key: _convert(label, key, value) for key, value in fields.items()}
    profile = RadioProfile(**values, source=source)
    if not profile.name:
        profile.name = label
    validate_profile(profile)
    return profile


#: Largest value of each integer field: beyond it GNU Radio fails deep
#: inside (a gap of 10^9 samples is a failed allocation). (The lower
#: bounds, which depend on the backend, are checked in validation.)
_INT_MAXIMA = {"gap_len": 1_000_000, "burst_padding": 1_000_000, "buffer_size": 1 << 24,
               "hwm": 1_000_000, "seed": (1 << 31) - 1}
#: Most taps a profile's multipath may have, and the largest tap magnitude.
_MAX_TAPS, _MAX_TAP = 64, 1e3
#: Longest string field (names, addresses, paths).
_MAX_STRING = 1024


def _convert(label: str, key: str, value: Any) -> Any:
    """Type-check and convert one field as read from YAML."""
    if key in _FLOAT_FIELDS:
        if key == "master_clock_rate_hz" and value is None:
            return None
        if isinstance(value, bool):
            raise ProfileError(label, key, f"must be a number, got {shown_value(value)}")
        try:
            number = parse_si(value)
        except ValueError:
            raise ProfileError(label, key, f"must be a number, got {shown_value(value)}") from None
        if not math.isfinite(number) and not (key == "snr_db" and number == math.inf):
            raise ProfileError(label, key, f"must be finite{' (or .inf: no noise)' if key == 'snr_db' else ''}, "
                               f"got {shown_value(value)}")
        return number
    if key in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ProfileError(label, key, f"must be an integer, got {shown_value(value)}")
        try:
            number = parse_si(value)
        except ValueError:
            raise ProfileError(label, key, f"must be an integer, got {shown_value(value)}") from None
        if not math.isfinite(number) or number != int(number):
            raise ProfileError(label, key, f"must be a finite integer, got {shown_value(value)}")
        high = _INT_MAXIMA.get(key, 1 << 62)
        if not -high <= number <= high:
            raise ProfileError(label, key, f"must be at most {high} in magnitude, got {shown_value(value)}")
        return int(number)
    if key in _BOOL_FIELDS:
        if not isinstance(value, bool):
            raise ProfileError(label, key, f"must be true or false, got {shown_value(value)}")
        return value
    if key == "taps":
        if not isinstance(value, (list, tuple)) or not value or len(value) > _MAX_TAPS:
            raise ProfileError(label, key, f"must be a list of 1 to {_MAX_TAPS} (complex) taps, "
                               f"got {shown_value(value)}")
        taps = []
        for tap in value:
            try:
                taps.append(complex(str(tap).replace(" ", "")))
            except ValueError:
                raise ProfileError(label, key, f"cannot read tap {shown_value(tap)}; write 1 or 0.3+0.1j") from None
            if not (math.isfinite(taps[-1].real) and math.isfinite(taps[-1].imag)) or abs(taps[-1]) > _MAX_TAP:
                raise ProfileError(label, key, f"tap {shown_value(tap)} must be finite, at most {_MAX_TAP:g} in "
                                   f"magnitude")
        return taps
    if key in _STR_FIELDS:
        if not isinstance(value, str):
            raise ProfileError(label, key, f"must be a string, got {shown_value(value)}")
        if len(value) > _MAX_STRING:
            raise ProfileError(label, key, f"must be at most {_MAX_STRING} characters, got {len(value)}")
        return value.strip()
    return value


# ----------------------------------------------------------------------------- validation


def validate_profile(profile: RadioProfile) -> None:
    """Check every field of ``profile``: the common ones here, then the
    backend's against its device's limits.

    Raises
    ------
    ProfileError
        For the first field that is out of range, naming it and the limit.
    """
    p = profile
    label = p.name or p.source
    backend = _backend_of(label, p.backend)
    if p.mcs not in MCS_NAMES:
        raise ProfileError(label, "mcs", f"unknown MCS {p.mcs!r}; this PHY supports "
                           f"{', '.join(MCS_NAMES)}")
    if not 0.0 < p.sync_threshold < 1.0:
        raise ProfileError(label, "sync_threshold", f"must lie in (0, 1), got {p.sync_threshold:g}")
    if not 0.0 < p.tx_amplitude <= 1.0:
        raise ProfileError(label, "tx_amplitude", f"must lie in (0, 1] (digital full scale), got "
                           f"{p.tx_amplitude:g}; OFDM peaks reach ~3.5x the RMS, so keep it "
                           f"near 0.3 to avoid DAC clipping")
    if p.gap_len < 100:
        raise ProfileError(label, "gap_len", f"must be >= 100 samples so the receiver's sync "
                           f"metric falls between bursts, got {p.gap_len}")
    if p.burst_padding < 0:
        raise ProfileError(label, "burst_padding", f"must be >= 0 samples, got {p.burst_padding}")
    if not p.message_timeout_s > 0:
        raise ProfileError(label, "message_timeout_s", f"must be > 0 s, got {p.message_timeout_s:g}")
    if not p.sample_rate_hz > 0:
        raise ProfileError(label, "sample_rate_hz", f"must be > 0, got {p.sample_rate_hz:g}")
    if p.center_freq_hz < 0:
        raise ProfileError(label, "center_freq_hz", f"must be >= 0, got {p.center_freq_hz:g}")
    backend.validate(p, label)


# ----------------------------------------------------------------------------- overrides


def overrides_from_args(backend: str, args: Optional[str] = None, freq: Optional[str] = None,
                        rate: Optional[str] = None, gain: Optional[str] = None,
                        direction: str = "rx") -> Dict[str, Any]:
    """Map UHD-style flags onto profile fields.

    ``-a/--args`` sets the backend's address field (the Pluto ``uri``, the
    USRP ``args``, the ZMQ ``address``, the SigMF ``path``); ``-f`` the
    centre frequency; ``-r`` the sample rate; ``-g`` the TX gain
    (``direction="tx"``) or the RX gain (``"rx"``), where the backend has a
    gain stage.

    Raises
    ------
    ProfileError
        When a flag does not apply to the backend (a gain for ZMQ, say), or
        the backend is unknown.
    """
    radio = _backend_of(backend, backend)
    out: Dict[str, Any] = {}
    if args is not None:
        if radio.address_field is None:
            raise ProfileError(backend, "args", f"-a/--args does not apply to the {backend} "
                               f"backend (it has no device address)")
        out[radio.address_field] = args
    if freq is not None:
        out["center_freq_hz"] = _flag_number("-f", freq, backend)
    if rate is not None:
        out["sample_rate_hz"] = _flag_number("-r", rate, backend)
    if gain is not None:
        if not radio.has_gain:
            raise ProfileError(backend, "gain", f"-g does not apply to the {backend} backend "
                               f"(it has no gain stage)")
        out["tx_gain_db" if direction == "tx" else "rx_gain_db"] = _flag_number("-g", gain, backend)
    return out


def _flag_number(flag: str, value: str, backend: str) -> float:
    try:
        return parse_si(value)
    except ValueError as error:
        raise ProfileError(backend, flag, str(error)) from None


def apply_overrides(profile: RadioProfile, **flags) -> RadioProfile:
    """A new, re-validated profile with UHD-style flags applied
    (keywords of :func:`overrides_from_args`)."""
    changes = overrides_from_args(profile.backend, **flags)
    raw = {k: v for k, v in dataclasses.asdict(profile).items() if k != "source"}
    raw = {k: v for k, v in raw.items() if k in _COMMON_FIELDS | get_backend(profile.backend).fields}
    return profile_from_dict(raw, source=profile.source, overrides=changes)


def replay_profile(recording: Union[str, os.PathLike],
                   base: Optional[RadioProfile] = None) -> RadioProfile:
    """A ``sigmf`` profile that plays ``recording`` (``tokencom rx --replay``).

    The recording gives the sample rate, the centre frequency and, when it
    was recorded, the sync threshold; ``base`` (the ``--radio`` profile, if
    any) gives the other common fields (gap, message timeout, ...). Fields of
    ``base``'s own backend (a URI, gains) do not apply to a file and are left out.

    Parameters
    ----------
    recording : path
        ``NAME``, ``NAME.sigmf-meta`` or ``NAME.sigmf-data``.

    Raises
    ------
    RecordingError
        The recording is missing or its metadata unreadable.
    ProfileError
        A value from the recording is out of range.
    """
    meta_path = recording_paths(Path(recording).expanduser())[1]
    raw: Dict[str, Any] = {"backend": SigmfBackend.name, "name": "replay"}
    if base is not None:
        raw.update({key: getattr(base, key) for key in _COMMON_FIELDS - {"backend", "name"}})
        raw["name"] = base.name
    raw["path"] = str(meta_path)
    raw.update(profile_fields_from_recording(meta_path))
    return profile_from_dict(raw, source=str(meta_path))
