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
"""

from typing import Optional

from gnuradio import gr

from .errors import is_no_device_error, radio_unavailable
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD
from .profile import RadioProfile, profile_from_dict
from ..gr.radio_chain import wire_token_rx, wire_token_tx


def device_args(profile: RadioProfile) -> str:
    """UHD device address string, with the master clock when the profile sets one."""
    args = profile.args
    if profile.master_clock_rate_hz and "master_clock_rate" not in args:
        args = f"{args},master_clock_rate={profile.master_clock_rate_hz:.0f}" if args else \
            f"master_clock_rate={profile.master_clock_rate_hz:.0f}"
    return args


def _open(profile: RadioProfile, make):
    try:
        return make()
    except Exception as error:  # noqa: BLE001 - translated or re-raised below
        if is_no_device_error(error):
            raise radio_unavailable("usrp", profile.args, error) from None
        raise


def make_usrp_source(profile: RadioProfile):
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


def make_usrp_sink(profile: RadioProfile):
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


def _grc_profile(args, model, center_freq_hz, sample_rate_hz, **fields) -> RadioProfile:
    raw = dict(backend="usrp", name="grc", args=args, model=model, center_freq_hz=center_freq_hz,
               sample_rate_hz=sample_rate_hz, **fields)
    if model != "x310":
        raw.setdefault("rf_bandwidth_hz", sample_rate_hz)
    return profile_from_dict(raw, source="GRC block")


class UsrpTokenTx(gr.hier_block2):
    """GRC block *TokenCom USRP TX*: packet PDUs in, bursts out of a USRP.

    Each packet's OFDM burst (with its gap) is one UHD burst framed by
    ``tx_sob``/``tx_eob``. Output: the ``complex64`` bursts as sent (after
    ``amplitude``), for GUI sinks; may be left unconnected.
    """

    def __init__(self, args: str = "type=b200", model: str = "b210",
                 center_freq_hz: float = 2.45e9, sample_rate_hz: float = 2.5e6,
                 tx_gain_db: float = 50.0, antenna: str = "TX/RX", amplitude: float = 0.3,
                 mcs: str = "qpsk-1/2", gap_len: int = 400):
        gr.hier_block2.__init__(self, "tokencom_usrp_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.profile = _grc_profile(args, model, center_freq_hz, sample_rate_hz,
                                    tx_gain_db=tx_gain_db, tx_antenna=antenna,
                                    tx_amplitude=amplitude, mcs=mcs, gap_len=int(gap_len))
        wire_token_tx(self, make_usrp_sink(self.profile), mcs, gap_len, idle_fill=False,
                      amplitude=amplitude)

    def set_tx_gain_db(self, gain_db: float) -> None:
        self.sink.set_gain(float(gain_db), 0)


class UsrpTokenRx(gr.hier_block2):
    """GRC block *TokenCom USRP RX*: a USRP's samples to received packet PDUs
    (message port ``pdus``), plus the samples for GUI sinks."""

    def __init__(self, args: str = "type=b200", model: str = "b210",
                 center_freq_hz: float = 2.45e9, sample_rate_hz: float = 2.5e6,
                 rx_gain_db: float = 40.0, antenna: str = "RX2",
                 sync_threshold: float = DEFAULT_SYNC_THRESHOLD):
        gr.hier_block2.__init__(self, "tokencom_usrp_rx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.profile = _grc_profile(args, model, center_freq_hz, sample_rate_hz,
                                    rx_gain_db=rx_gain_db, rx_antenna=antenna,
                                    sync_threshold=sync_threshold)
        wire_token_rx(self, make_usrp_source(self.profile), sync_threshold)

    def set_rx_gain_db(self, gain_db: float) -> None:
        self.source.set_gain(float(gain_db), 0)


def usrp_args_from_env(default: Optional[str] = None) -> Optional[str]:
    """``$TOKENCOM_USRP_ARGS`` (used by the hardware tests), else ``default``."""
    import os

    return os.environ.get("TOKENCOM_USRP_ARGS") or default
