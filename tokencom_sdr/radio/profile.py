"""Radio profiles: the YAML files in ``hw_configs/``, loaded and validated.

A profile says which backend carries the IQ and how to set it up: centre
frequency, sample rate, RF bandwidth and gains, the device URI or arguments,
the MCS the transmitter uses (the receiver reads it from each burst's
header) and the burst padding. Every field is checked when the
profile is loaded, so a wrong value fails at once with a message that names
the field, the limit and the device, instead of deep inside a driver.

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
loopback   snr_db, cfo, sco_ppm, taps, seed, sample_rate_hz, center_freq_hz
all        backend*, name, description, mcs, sync_threshold, tx_amplitude,
           gap_len, burst_padding, message_timeout_s
=========  ===================================================================

Limits (checked by :func:`validate_profile`):

* Pluto (AD9363): LO 325 MHz-3.8 GHz stock, 70 MHz-6 GHz with
  ``extended_tuning: true`` (AD9364 firmware setting); sample rate
  >= 2.084 MS/s without FIR decimation (``fir_filter: off``), >= 520.833 kS/s
  with it (``fir_filter: auto``), <= 61.44 MS/s; RF bandwidth 200 kHz-20 MHz
  (40 MHz extended); TX gain -89.75..0 dB in 0.25 dB steps (gr-iio's
  attenuation is its negative); RX gain by LO band, as in the AD9361 gain
  tables: -1..73 dB below 1.3 GHz, -3..71 dB to 4 GHz, -10..62 dB above.
* USRP B200/B210 (AD9361): 70 MHz-6 GHz, 200 kS/s-61.44 MS/s, TX gain
  0..89.75 dB, RX gain 0..76 dB. X310 with UBX-160 daughterboards:
  10 MHz-6 GHz, sample rate = master clock (200 or 184.32 MHz) / integer,
  TX and RX gain 0..31.5 dB.

Overrides in the UHD style (``-a/--args``, ``-f``, ``-r``, ``-g``) replace
fields before validation; see :func:`apply_overrides`.
"""

import dataclasses
import difflib
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import yaml

from ..phy.mcs import MCS_NAMES
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD

BACKENDS = ("pluto", "usrp", "zmq", "loopback")
USRP_MODELS = ("b200", "b210", "x310")
PLUTO_GAIN_MODES = ("manual", "slow_attack", "fast_attack", "hybrid")
PLUTO_FIR_FILTERS = ("auto", "off")

#: Where ``--radio NAME`` looks for ``NAME.yaml``, after an explicit path:
#: $TOKENCOM_HW_CONFIGS, ./hw_configs, then the repository's hw_configs/.
HW_CONFIGS_ENV = "TOKENCOM_HW_CONFIGS"
_REPO_HW_CONFIGS = Path(__file__).resolve().parents[2] / "hw_configs"


class ProfileError(ValueError):
    """A profile is missing, malformed or out of range.

    ``str()`` is one line: ``"<profile>: <field>: <what is wrong>"``.

    Attributes
    ----------
    profile : str
        Profile name or file.
    field : str or None
        The offending field, or None for file-level problems.
    """

    def __init__(self, profile: str, field: Optional[str], message: str):
        self.profile = profile
        self.field = field
        where = f"{profile}: {field}: " if field else f"{profile}: "
        super().__init__(where + message)


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
        """URI, device args or endpoint: what ``-a/--args`` sets."""
        return {"pluto": self.uri, "usrp": self.args, "zmq": self.address}.get(self.backend, "")

    def to_dict(self) -> Dict[str, Any]:
        """The fields that apply to this backend, JSON-friendly."""
        keys = ["backend", "name"] + sorted(_COMMON_FIELDS - {"backend", "name", "description"}) \
            + sorted(_BACKEND_FIELDS[self.backend])
        out = {}
        for key in keys:
            value = getattr(self, key)
            if key == "taps":
                value = [str(complex(t)) for t in value]
            out[key] = value
        return out

    def hardware_label(self) -> str:
        """Short description of the hardware for recordings (SigMF core:hw)."""
        if self.backend == "pluto":
            return f"ADALM-Pluto (AD9363) at {self.uri}"
        if self.backend == "usrp":
            return f"Ettus USRP {self.model.upper()} ({self.args})"
        if self.backend == "zmq":
            return f"ZMQ virtual radio ({self.address})"
        return "software loopback channel"


_COMMON_FIELDS = {"backend", "name", "description", "mcs", "sync_threshold", "tx_amplitude",
                  "gap_len", "burst_padding", "message_timeout_s"}
_BACKEND_FIELDS = {
    "pluto": {"uri", "center_freq_hz", "sample_rate_hz", "rf_bandwidth_hz", "tx_gain_db",
              "rx_gain_db", "rx_gain_mode", "extended_tuning", "fir_filter", "buffer_size"},
    "usrp": {"args", "model", "center_freq_hz", "sample_rate_hz", "rf_bandwidth_hz", "tx_gain_db",
             "rx_gain_db", "tx_antenna", "rx_antenna", "master_clock_rate_hz"},
    "zmq": {"address", "sample_rate_hz", "center_freq_hz", "hwm", "wait_timeout_s",
            "drain_timeout_s"},
    "loopback": {"snr_db", "cfo", "sco_ppm", "taps", "seed", "sample_rate_hz", "center_freq_hz"},
}

_FLOAT_FIELDS = {"sync_threshold", "tx_amplitude", "message_timeout_s", "center_freq_hz",
                 "sample_rate_hz", "rf_bandwidth_hz", "tx_gain_db", "rx_gain_db",
                 "master_clock_rate_hz", "wait_timeout_s", "drain_timeout_s", "snr_db", "cfo",
                 "sco_ppm"}
_INT_FIELDS = {"gap_len", "burst_padding", "buffer_size", "hwm", "seed"}
_BOOL_FIELDS = {"extended_tuning"}
_STR_FIELDS = {"backend", "name", "description", "mcs", "uri", "rx_gain_mode", "fir_filter",
               "args", "model", "tx_antenna", "rx_antenna", "address"}

# Device limits.
PLUTO_LO_STOCK = (325e6, 3.8e9)
PLUTO_LO_EXTENDED = (70e6, 6.0e9)
PLUTO_RATE_MIN_NO_FIR = 2.084e6
PLUTO_RATE_MIN_FIR = 520833.0
PLUTO_RATE_MAX = 61.44e6
PLUTO_BW_STOCK = (200e3, 20e6)
PLUTO_BW_EXTENDED = (200e3, 40e6)
PLUTO_TX_GAIN = (-89.75, 0.0)
PLUTO_TX_GAIN_STEP = 0.25
#: (upper LO edge, min gain, max gain) of the AD9361 RX gain tables.
AD9361_RX_GAIN_BANDS = ((1.3e9, -1.0, 73.0), (4.0e9, -3.0, 71.0), (6.0e9, -10.0, 62.0))
USRP_LIMITS = {
    # model: (freq range, rate range, tx gain range, rx gain range, bw range)
    "b200": ((70e6, 6e9), (200e3, 61.44e6), (0.0, 89.75), (0.0, 76.0), (200e3, 56e6)),
    "b210": ((70e6, 6e9), (200e3, 61.44e6), (0.0, 89.75), (0.0, 76.0), (200e3, 56e6)),
    "x310": ((10e6, 6e9), (200e3, 200e6), (0.0, 31.5), (0.0, 31.5), (160e6, 160e6)),
}
X310_MASTER_CLOCKS = (200e6, 184.32e6)

_SI = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}


def parse_si(text: Union[str, float, int]) -> float:
    """``"2.45G"`` -> 2.45e9, ``"2.5M"`` -> 2.5e6, ``"915e6"`` -> 915e6."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    value = str(text).strip()
    scale = 1.0
    if value and value[-1] in _SI:
        scale, value = _SI[value[-1]], value[:-1]
    try:
        return float(value) * scale
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a number (e.g. 2.45e9 or 2.45G)") from None


def _fmt_hz(hz: float) -> str:
    for unit, scale in (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)):
        if abs(hz) >= scale:
            return f"{hz / scale:g} {unit}"
    return f"{hz:g} Hz"


def _fmt_rate(sps: float) -> str:
    for unit, scale in (("MS/s", 1e6), ("kS/s", 1e3)):
        if abs(sps) >= scale:
            return f"{sps / scale:g} {unit}"
    return f"{sps:g} S/s"


# ----------------------------------------------------------------------------- loading


def profile_search_path() -> List[Path]:
    """Folders searched for ``NAME.yaml``, in order."""
    folders = []
    if os.environ.get(HW_CONFIGS_ENV):
        folders.append(Path(os.environ[HW_CONFIGS_ENV]))
    folders += [Path.cwd() / "hw_configs", _REPO_HW_CONFIGS]
    unique = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def available_profiles() -> List[str]:
    """Names of the profiles found on :func:`profile_search_path`."""
    names = set()
    for folder in profile_search_path():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def find_profile(name_or_path: Union[str, os.PathLike]) -> Path:
    """Resolve ``--radio`` to a file: a path to a YAML file, or a profile name
    looked up on :func:`profile_search_path`."""
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
        ``"pluto"`` (looked up in ``hw_configs/``) or a YAML file.
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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProfileError(str(path), None, f"not valid YAML{where}: "
                           f"{getattr(error, 'problem', None) or error}") from None
    if raw is None:
        raise ProfileError(str(path), None, "the file is empty")
    if not isinstance(raw, dict):
        raise ProfileError(str(path), None, f"expected a mapping of fields, got {type(raw).__name__}")
    raw = dict(raw)
    raw.setdefault("name", path.stem)
    return profile_from_dict(raw, source=str(path), overrides=overrides)


def profile_from_dict(raw: Dict[str, Any], source: str = "<dict>",
                      overrides: Optional[Dict[str, Any]] = None) -> RadioProfile:
    """Validate a mapping of fields (as read from YAML) into a profile."""
    label = str(raw.get("name") or source)
    fields = dict(raw)
    fields.update({k: v for k, v in (overrides or {}).items() if v is not None})
    backend = fields.get("backend")
    if backend is None:
        raise ProfileError(label, "backend", f"missing; choose one of {', '.join(BACKENDS)}")
    if backend not in BACKENDS:
        raise ProfileError(label, "backend", f"unknown backend {backend!r}; choose one of "
                           f"{', '.join(BACKENDS)}")
    allowed = _COMMON_FIELDS | _BACKEND_FIELDS[backend]
    for key in fields:
        if key not in allowed:
            everything = _COMMON_FIELDS.union(*_BACKEND_FIELDS.values())
            if key in everything:
                raise ProfileError(label, key, f"does not apply to the {backend} backend")
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProfileError(label, str(key), f"unknown field{hint}")
    values = {key: _convert(label, key, value) for key, value in fields.items()}
    profile = RadioProfile(**values, source=source)
    if not profile.name:
        profile.name = label
    validate_profile(profile)
    return profile


def _convert(label: str, key: str, value: Any) -> Any:
    """Type-check and convert one field as read from YAML."""
    if key in _FLOAT_FIELDS:
        if key == "master_clock_rate_hz" and value is None:
            return None
        if isinstance(value, bool):
            raise ProfileError(label, key, f"must be a number, got {value!r}")
        try:
            number = parse_si(value)
        except ValueError:
            raise ProfileError(label, key, f"must be a number, got {value!r}") from None
        if not math.isfinite(number) and key != "snr_db":
            raise ProfileError(label, key, f"must be finite, got {value!r}")
        return number
    if key in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ProfileError(label, key, f"must be an integer, got {value!r}")
        try:
            number = parse_si(value)
        except ValueError:
            raise ProfileError(label, key, f"must be an integer, got {value!r}") from None
        if number != int(number):
            raise ProfileError(label, key, f"must be an integer, got {value!r}")
        return int(number)
    if key in _BOOL_FIELDS:
        if not isinstance(value, bool):
            raise ProfileError(label, key, f"must be true or false, got {value!r}")
        return value
    if key == "taps":
        if not isinstance(value, (list, tuple)) or not value:
            raise ProfileError(label, key, f"must be a non-empty list of (complex) taps, got {value!r}")
        taps = []
        for tap in value:
            try:
                taps.append(complex(str(tap).replace(" ", "")))
            except ValueError:
                raise ProfileError(label, key, f"cannot read tap {tap!r}; write 1 or 0.3+0.1j") from None
        return taps
    if key in _STR_FIELDS:
        if not isinstance(value, str):
            raise ProfileError(label, key, f"must be a string, got {value!r}")
        return value.strip()
    return value


# ----------------------------------------------------------------------------- validation


def _check_range(label: str, key: str, value: float, low: float, high: float, what: str,
                 fmt=_fmt_hz, hint: str = "") -> None:
    if not low <= value <= high:
        side = "below" if value < low else "above"
        raise ProfileError(label, key, f"{fmt(value)} is {side} the {what} range "
                           f"{fmt(low)}..{fmt(high)}{hint}")


def _db(x: float) -> str:
    return f"{x:g} dB"


def ad9361_rx_gain_range(lo_hz: float) -> Tuple[float, float]:
    """Manual RX gain range of the AD9361/AD9363 at LO ``lo_hz`` (dB)."""
    for edge, low, high in AD9361_RX_GAIN_BANDS:
        if lo_hz <= edge:
            return low, high
    return AD9361_RX_GAIN_BANDS[-1][1:]


def validate_profile(profile: RadioProfile) -> None:
    """Check every field of ``profile`` against its backend's limits.

    Raises
    ------
    ProfileError
        For the first field that is out of range, naming it and the limit.
    """
    p = profile
    label = p.name or p.source
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
    if p.backend in ("pluto", "usrp", "zmq", "loopback") and not p.sample_rate_hz > 0:
        raise ProfileError(label, "sample_rate_hz", f"must be > 0, got {p.sample_rate_hz:g}")
    if p.center_freq_hz < 0:
        raise ProfileError(label, "center_freq_hz", f"must be >= 0, got {p.center_freq_hz:g}")
    {"pluto": _validate_pluto, "usrp": _validate_usrp, "zmq": _validate_zmq,
     "loopback": _validate_loopback}[p.backend](p, label)


_PLUTO_URI = re.compile(r"^(ip:[^\s]+|usb:[0-9.]*|local:|serial:[^\s]+)$")


def _validate_pluto(p: RadioProfile, label: str) -> None:
    if not _PLUTO_URI.match(p.uri):
        raise ProfileError(label, "uri", f"{p.uri!r} is not an IIO context URI; use ip:HOST "
                           f"(e.g. ip:192.168.2.1), usb:BUS.DEV.INTF (see `iio_info -s`) or local:")
    lo_range = PLUTO_LO_EXTENDED if p.extended_tuning else PLUTO_LO_STOCK
    hint = "" if p.extended_tuning else (
        " (70 MHz..6 GHz needs extended_tuning: true, i.e. a Pluto set to AD9364 mode)")
    _check_range(label, "center_freq_hz", p.center_freq_hz, *lo_range,
                 "Pluto " + ("extended" if p.extended_tuning else "stock") + " LO", hint=hint)
    if p.fir_filter not in PLUTO_FIR_FILTERS:
        raise ProfileError(label, "fir_filter", f"must be one of {', '.join(PLUTO_FIR_FILTERS)}, "
                           f"got {p.fir_filter!r}")
    if p.fir_filter == "off" and p.sample_rate_hz < PLUTO_RATE_MIN_NO_FIR:
        raise ProfileError(label, "sample_rate_hz", f"{_fmt_rate(p.sample_rate_hz)} is below the "
                           f"Pluto's {_fmt_rate(PLUTO_RATE_MIN_NO_FIR)} minimum without FIR "
                           f"decimation; set fir_filter: auto (down to 521 kS/s) or raise the rate")
    _check_range(label, "sample_rate_hz", p.sample_rate_hz, PLUTO_RATE_MIN_FIR, PLUTO_RATE_MAX,
                 "Pluto sample-rate (with FIR decimation)", fmt=_fmt_rate)
    bw_range = PLUTO_BW_EXTENDED if p.extended_tuning else PLUTO_BW_STOCK
    _check_range(label, "rf_bandwidth_hz", p.rf_bandwidth_hz, *bw_range, "Pluto RF bandwidth")
    _check_range(label, "tx_gain_db", p.tx_gain_db, *PLUTO_TX_GAIN,
                 "Pluto TX gain (= -attenuation)", fmt=_db)
    steps = p.tx_gain_db / PLUTO_TX_GAIN_STEP
    if abs(steps - round(steps)) > 1e-9:
        raise ProfileError(label, "tx_gain_db", f"{p.tx_gain_db:g} dB is not a multiple of the "
                           f"Pluto's {PLUTO_TX_GAIN_STEP} dB attenuation step "
                           f"(e.g. {round(steps) * PLUTO_TX_GAIN_STEP:g})")
    if p.rx_gain_mode not in PLUTO_GAIN_MODES:
        raise ProfileError(label, "rx_gain_mode", f"must be one of {', '.join(PLUTO_GAIN_MODES)}, "
                           f"got {p.rx_gain_mode!r}")
    low, high = ad9361_rx_gain_range(p.center_freq_hz)
    _check_range(label, "rx_gain_db", p.rx_gain_db, low, high,
                 f"AD9361 RX gain at {_fmt_hz(p.center_freq_hz)}", fmt=_db)
    if not 1024 <= p.buffer_size <= 1 << 24:
        raise ProfileError(label, "buffer_size", f"must be 1024..16777216 samples, got {p.buffer_size}")


_USRP_ARGS = re.compile(r"^\s*[A-Za-z_][\w]*\s*=\s*[^,=]+(\s*,\s*[A-Za-z_][\w]*\s*=\s*[^,=]+)*\s*$")


def _validate_usrp(p: RadioProfile, label: str) -> None:
    if p.model not in USRP_MODELS:
        raise ProfileError(label, "model", f"unknown USRP model {p.model!r}; choose one of "
                           f"{', '.join(USRP_MODELS)}")
    if p.args and not _USRP_ARGS.match(p.args):
        raise ProfileError(label, "args", f"{p.args!r} is not a UHD device address; write "
                           f"key=value pairs separated by commas (e.g. type=b200 or "
                           f"addr=192.168.40.2)")
    freq, rate, tx_gain, rx_gain, bw = USRP_LIMITS[p.model]
    name = f"USRP {p.model.upper()}"
    _check_range(label, "center_freq_hz", p.center_freq_hz, *freq, f"{name} tuning")
    _check_range(label, "sample_rate_hz", p.sample_rate_hz, *rate, f"{name} sample-rate",
                 fmt=_fmt_rate)
    _check_range(label, "tx_gain_db", p.tx_gain_db, *tx_gain, f"{name} TX gain", fmt=_db)
    _check_range(label, "rx_gain_db", p.rx_gain_db, *rx_gain, f"{name} RX gain", fmt=_db)
    if p.model == "x310":
        clock = p.master_clock_rate_hz or X310_MASTER_CLOCKS[0]
        if clock not in X310_MASTER_CLOCKS:
            raise ProfileError(label, "master_clock_rate_hz", f"the X310 runs at "
                               f"{' or '.join(_fmt_hz(c) for c in X310_MASTER_CLOCKS)}, got "
                               f"{_fmt_hz(clock)}")
        ratio = clock / p.sample_rate_hz
        if abs(ratio - round(ratio)) > 1e-6:
            raise ProfileError(label, "sample_rate_hz", f"{_fmt_rate(p.sample_rate_hz)} is not the "
                               f"X310 master clock {_fmt_hz(clock)} divided by an integer "
                               f"(e.g. {_fmt_rate(clock / max(1, round(ratio)))})")
    else:
        _check_range(label, "rf_bandwidth_hz", p.rf_bandwidth_hz, *bw, f"{name} RF bandwidth")
        if p.master_clock_rate_hz is not None and not 5e6 <= p.master_clock_rate_hz <= 61.44e6:
            raise ProfileError(label, "master_clock_rate_hz", f"the B2xx master clock must be "
                               f"5..61.44 MHz, got {_fmt_hz(p.master_clock_rate_hz)}")


_ZMQ_ADDRESS = re.compile(r"^(tcp://(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\s]+):(?P<port>\d+)|ipc://\S+)$")


def parse_zmq_address(address: str) -> Tuple[str, Optional[str], Optional[int]]:
    """``tcp://127.0.0.1:5555`` -> ``("tcp", "127.0.0.1", 5555)``;
    ``ipc:///tmp/x`` -> ``("ipc", None, None)``. Raises ValueError."""
    match = _ZMQ_ADDRESS.match(address or "")
    if not match:
        raise ValueError(f"{address!r} is not a ZMQ endpoint; write tcp://HOST:PORT "
                         f"(e.g. tcp://127.0.0.1:5555) or ipc://PATH")
    if address.startswith("ipc://"):
        return "ipc", None, None
    port = int(match.group("port"))
    if port > 65535:
        raise ValueError(f"port {port} in {address!r} is above 65535")
    return "tcp", match.group("host").strip("[]"), port


def _validate_zmq(p: RadioProfile, label: str) -> None:
    try:
        parse_zmq_address(p.address)
    except ValueError as error:
        raise ProfileError(label, "address", str(error)) from None
    if p.hwm < 1:
        raise ProfileError(label, "hwm", f"the ZMQ high-water mark must be >= 1 message, got {p.hwm}")
    if not p.wait_timeout_s > 0:
        raise ProfileError(label, "wait_timeout_s", f"must be > 0 s, got {p.wait_timeout_s:g}")
    if not p.drain_timeout_s > 0:
        raise ProfileError(label, "drain_timeout_s", f"must be > 0 s, got {p.drain_timeout_s:g}")


def _validate_loopback(p: RadioProfile, label: str) -> None:
    if math.isnan(p.snr_db):
        raise ProfileError(label, "snr_db", "must be a number of dB (or .inf for no noise)")
    if not -0.5 < p.cfo < 0.5:
        raise ProfileError(label, "cfo", f"is normalised to the sample rate and must lie in "
                           f"(-0.5, 0.5), got {p.cfo:g}")
    if not abs(p.sco_ppm) < 1e5:
        raise ProfileError(label, "sco_ppm", f"{p.sco_ppm:g} ppm is not a plausible clock offset")
    if sum(abs(t) ** 2 for t in p.taps) <= 0:
        raise ProfileError(label, "taps", "multipath taps must have non-zero energy")


# ----------------------------------------------------------------------------- overrides


def overrides_from_args(backend: str, args: Optional[str] = None, freq: Optional[str] = None,
                        rate: Optional[str] = None, gain: Optional[str] = None,
                        direction: str = "rx") -> Dict[str, Any]:
    """Map UHD-style flags onto profile fields.

    ``-a/--args`` sets the Pluto ``uri``, the USRP ``args`` or the ZMQ
    ``address``; ``-f`` the centre frequency; ``-r`` the sample rate; ``-g``
    the TX gain (``direction="tx"``) or the RX gain (``"rx"``).

    Raises
    ------
    ProfileError
        When a flag does not apply to the backend (a gain for ZMQ, say).
    """
    out: Dict[str, Any] = {}
    if args is not None:
        key = {"pluto": "uri", "usrp": "args", "zmq": "address"}.get(backend)
        if key is None:
            raise ProfileError(backend, "args", f"-a/--args does not apply to the {backend} backend")
        out[key] = args
    if freq is not None:
        out["center_freq_hz"] = _flag_number("-f", freq, backend)
    if rate is not None:
        out["sample_rate_hz"] = _flag_number("-r", rate, backend)
    if gain is not None:
        if backend not in ("pluto", "usrp"):
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
    raw = {k: v for k, v in raw.items()
           if k in _COMMON_FIELDS | _BACKEND_FIELDS[profile.backend]}
    return profile_from_dict(raw, source=profile.source, overrides=changes)
