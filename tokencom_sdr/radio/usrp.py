"""Ettus USRPs through gr-uhd, with ``tx_sob``/``tx_eob`` burst framing.

Each message goes out as one UHD burst: the first sample carries a
``tx_sob`` tag and the last a ``tx_eob`` tag (gr-pdu's ``pdu_to_stream_c``
adds both to every PDU it plays out). Between bursts the sink receives
nothing and UHD does not underflow: an end-of-burst tells it the stream
pauses on purpose. The profile's ``burst_padding`` zeros inside each burst
let the DAC and the PA ramp down before the end of burst.

With no device, gr-uhd 3.10.5 raises ``RuntimeError("LookupError: KeyError:
No devices found for ----->\\nDevice Address: ...")`` (UHD's ``LookupError``
wrapped); it is translated to
:class:`~tokencom_sdr.radio.errors.RadioUnavailableError`. Device discovery
follows the args: ``type=b200`` looks on USB only, ``addr=...`` contacts that
address. (``uhd.find_devices()`` is broken in 3.10.5 and is not used.)

Limits (checked by :meth:`UsrpBackend.validate`): B200/B210 (AD9361)
70 MHz-6 GHz, 200 kS/s-61.44 MS/s, TX gain 0..89.75 dB, RX gain 0..76 dB.
X310 with UBX-160 daughterboards: 10 MHz-6 GHz, sample rate = master clock
(200 or 184.32 MHz) / integer, TX and RX gain 0..31.5 dB.

The GRC blocks *TokenCom USRP TX/RX* are in :mod:`tokencom_sdr.gr.radio_blocks`.
"""

import os
import re
import time
from typing import Optional

import numpy as np

from .backend import Log, RadioBackend
from .checks import ProfileError, check_range, format_db, format_hz, format_rate
from .errors import is_no_device_error, radio_unavailable
from .flowgraph_sink import FlowgraphTxSink

__all__ = ["UsrpBackend", "UsrpTxSink", "make_usrp_source", "make_usrp_sink", "device_args",
           "usrp_args_from_env"]

USRP_MODELS = ("b200", "b210", "x310")
USRP_LIMITS = {
    # model: (freq range, rate range, tx gain range, rx gain range, bw range)
    "b200": ((70e6, 6e9), (200e3, 61.44e6), (0.0, 89.75), (0.0, 76.0), (200e3, 56e6)),
    "b210": ((70e6, 6e9), (200e3, 61.44e6), (0.0, 89.75), (0.0, 76.0), (200e3, 56e6)),
    "x310": ((10e6, 6e9), (200e3, 200e6), (0.0, 31.5), (0.0, 31.5), (160e6, 160e6)),
}
X310_MASTER_CLOCKS = (200e6, 184.32e6)
_USRP_ARGS = re.compile(r"^\s*[A-Za-z_][\w]*\s*=\s*[^,=]+(\s*,\s*[A-Za-z_][\w]*\s*=\s*[^,=]+)*\s*$")


def device_args(profile) -> str:
    """UHD device address string, with the master clock when the profile sets one."""
    args = profile.args
    if profile.master_clock_rate_hz and "master_clock_rate" not in args:
        args = f"{args},master_clock_rate={profile.master_clock_rate_hz:.0f}" if args else \
            f"master_clock_rate={profile.master_clock_rate_hz:.0f}"
    return args


def _open(profile, make):
    try:
        return make()
    except Exception as error:  # noqa: BLE001 - translated or re-raised below
        if is_no_device_error(error):
            raise radio_unavailable("usrp", profile.args, error) from None
        raise


def make_usrp_source(profile):
    """A configured ``uhd.usrp_source`` (one channel, ``complex64``)."""
    from gnuradio import uhd

    args = device_args(profile)
    source = _open(profile, lambda: uhd.usrp_source(
        args, uhd.stream_args(cpu_format="fc32", args="", channels=[0])))
    source.set_samp_rate(float(profile.sample_rate_hz))
    source.set_center_freq(uhd.tune_request(float(profile.center_freq_hz)), 0)
    source.set_gain(float(profile.rx_gain_db), 0)
    source.set_antenna(profile.rx_antenna, 0)
    if profile.model != "x310":
        source.set_bandwidth(float(profile.rf_bandwidth_hz), 0)
    return source


def make_usrp_sink(profile):
    """A configured ``uhd.usrp_sink`` in burst mode (``tx_sob``/``tx_eob`` tags)."""
    from gnuradio import uhd

    args = device_args(profile)
    # An empty length-tag name: bursts are framed by tx_sob/tx_eob tags.
    sink = _open(profile, lambda: uhd.usrp_sink(
        args, uhd.stream_args(cpu_format="fc32", args="", channels=[0]), ""))
    sink.set_samp_rate(float(profile.sample_rate_hz))
    sink.set_center_freq(uhd.tune_request(float(profile.center_freq_hz)), 0)
    sink.set_gain(float(profile.tx_gain_db), 0)
    sink.set_antenna(profile.tx_antenna, 0)
    if profile.model != "x310":
        sink.set_bandwidth(float(profile.rf_bandwidth_hz), 0)
    return sink


def usrp_args_from_env(default: Optional[str] = None) -> Optional[str]:
    """``$TOKENCOM_USRP_ARGS`` (used by the hardware tests), else ``default``."""
    return os.environ.get("TOKENCOM_USRP_ARGS") or default


class UsrpTxSink(FlowgraphTxSink):
    """One UHD burst per message, framed by ``tx_sob``/``tx_eob``.

    Parameters
    ----------
    profile : RadioProfile
        A validated ``usrp`` profile.
    log : callable
        Receives one-line progress messages.
    sink : gr block, optional
        Replaces the USRP sink (tests use a vector sink).
    """

    def __init__(self, profile, log: Log, sink=None):
        from gnuradio import pdu

        self.profile = profile
        self.log = log
        sink = sink if sink is not None else make_usrp_sink(profile)
        super().__init__(pdu.pdu_to_stream_c(pdu.EARLY_BURST_APPEND, 64), sink, "tokencom_usrp_tx")
        self._busy_until = time.monotonic()

    def send(self, iq: np.ndarray) -> None:
        padded = np.concatenate([iq, np.zeros(self.profile.burst_padding, dtype=np.complex64)])
        self.post("pdus", padded)
        # The USRP consumes at the sample rate: pace ourselves to the airtime.
        airtime = len(padded) / self.profile.sample_rate_hz
        self._busy_until = max(self._busy_until, time.monotonic()) + airtime
        time.sleep(max(0.0, self._busy_until - time.monotonic()))

    def close(self, interrupted: bool = False) -> None:
        if not interrupted:
            time.sleep(max(0.0, self._busy_until - time.monotonic()) + 0.2)
        super().close()


class UsrpBackend(RadioBackend):
    """Ettus USRP B200/B210/X310 through gr-uhd; ``-a`` sets the UHD device args."""

    name = "usrp"
    fields = frozenset({"args", "model", "center_freq_hz", "sample_rate_hz", "rf_bandwidth_hz",
                        "tx_gain_db", "rx_gain_db", "tx_antenna", "rx_antenna",
                        "master_clock_rate_hz"})
    address_field = "args"
    has_gain = True

    def validate(self, profile, label: str) -> None:
        p = profile
        if p.model not in USRP_MODELS:
            raise ProfileError(label, "model", f"unknown USRP model {p.model!r}; choose one of "
                               f"{', '.join(USRP_MODELS)}")
        if p.args and not _USRP_ARGS.match(p.args):
            raise ProfileError(label, "args", f"{p.args!r} is not a UHD device address; write "
                               f"key=value pairs separated by commas (e.g. type=b200 or "
                               f"addr=192.168.40.2)")
        freq, rate, tx_gain, rx_gain, bw = USRP_LIMITS[p.model]
        name = f"USRP {p.model.upper()}"
        check_range(label, "center_freq_hz", p.center_freq_hz, *freq, f"{name} tuning")
        check_range(label, "sample_rate_hz", p.sample_rate_hz, *rate, f"{name} sample-rate",
                    fmt=format_rate)
        check_range(label, "tx_gain_db", p.tx_gain_db, *tx_gain, f"{name} TX gain", fmt=format_db)
        check_range(label, "rx_gain_db", p.rx_gain_db, *rx_gain, f"{name} RX gain", fmt=format_db)
        if p.model == "x310":
            clock = p.master_clock_rate_hz or X310_MASTER_CLOCKS[0]
            if clock not in X310_MASTER_CLOCKS:
                raise ProfileError(label, "master_clock_rate_hz", f"the X310 runs at "
                                   f"{' or '.join(format_hz(c) for c in X310_MASTER_CLOCKS)}, got "
                                   f"{format_hz(clock)}")
            ratio = clock / p.sample_rate_hz
            if abs(ratio - round(ratio)) > 1e-6:
                raise ProfileError(label, "sample_rate_hz", f"{format_rate(p.sample_rate_hz)} is "
                                   f"not the X310 master clock {format_hz(clock)} divided by an "
                                   f"integer (e.g. {format_rate(clock / max(1, round(ratio)))})")
        else:
            check_range(label, "rf_bandwidth_hz", p.rf_bandwidth_hz, *bw, f"{name} RF bandwidth")
            if p.master_clock_rate_hz is not None and not 5e6 <= p.master_clock_rate_hz <= 61.44e6:
                raise ProfileError(label, "master_clock_rate_hz", f"the B2xx master clock must be "
                                   f"5..61.44 MHz, got {format_hz(p.master_clock_rate_hz)}")

    def hardware_label(self, profile) -> str:
        return f"Ettus USRP {profile.model.upper()} ({profile.args})"

    def make_source(self, profile):
        return make_usrp_source(profile)

    def make_sink(self, profile, log: Log) -> UsrpTxSink:
        return UsrpTxSink(profile, log)
