"""GRC blocks *TokenCom Pluto TX/RX* and *TokenCom USRP TX/RX*: the token chain around a radio.

A TX block takes packet PDUs, runs the streaming OFDM transmitter and puts
the scaled stream into the radio's sink; an RX block feeds the radio's
samples to the OFDM receiver and exposes its ``pdus`` and ``symbols``
ports. The Pluto and USRP blocks differ only in the sink or source (from
:mod:`tokencom_sdr.radio.pluto` and :mod:`tokencom_sdr.radio.usrp`) and in
their parameters, which are validated as a radio profile, with the same
checks and messages as a YAML profile.
"""

from gnuradio import blocks, gr

from ..phy.hier_message_ports import export_message_input, export_message_output
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD, OfdmBurstRx
from ..radio.pluto import make_pluto_sink, make_pluto_source
from ..radio.profile import RadioProfile, profile_from_dict
from ..radio.usrp import make_usrp_sink, make_usrp_source
from .ofdm_stream_tx import OfdmStreamTx

__all__ = ["PlutoTokenTx", "PlutoTokenRx", "UsrpTokenTx", "UsrpTokenRx", "wire_token_tx",
           "wire_token_rx"]


def wire_token_tx(block: gr.hier_block2, sink, mcs: str, gap_len: int, idle_fill: bool,
                  amplitude: float) -> None:
    """Message port ``pdus`` -> OFDM stream TX -> ``amplitude`` -> ``sink``;
    the scaled stream is also ``block``'s output (for GUI sinks)."""
    block.tx = OfdmStreamTx(mcs=mcs, gap_len=int(gap_len), idle_fill=idle_fill)
    block.scale = blocks.multiply_const_cc(float(amplitude))
    block.sink = sink
    export_message_input(block, "pdus", block.tx)
    block.connect(block.tx, block.scale, block.sink)
    block.connect(block.scale, block)


def wire_token_rx(block: gr.hier_block2, source, sync_threshold: float) -> None:
    """``source`` -> OFDM RX, whose ``pdus`` and ``symbols`` message ports
    become ``block``'s; the samples are also ``block``'s output."""
    block.source = source
    block.rx = OfdmBurstRx(sync_threshold)
    block.connect(block.source, block.rx)
    block.connect(block.source, block)
    export_message_output(block, block.rx, "pdus")
    export_message_output(block, block.rx, "symbols")


def _pluto_profile(uri, center_freq_hz, sample_rate_hz, rf_bandwidth_hz, buffer_size,
                   extended_tuning, **fields) -> RadioProfile:
    """A validated Pluto profile from GRC block parameters (same checks as YAML)."""
    raw = dict(backend="pluto", name="grc", uri=uri, center_freq_hz=center_freq_hz,
               sample_rate_hz=sample_rate_hz, rf_bandwidth_hz=rf_bandwidth_hz,
               buffer_size=int(buffer_size), extended_tuning=bool(extended_tuning), **fields)
    return profile_from_dict(raw, source="GRC block")


def _usrp_profile(args, model, center_freq_hz, sample_rate_hz, **fields) -> RadioProfile:
    """A validated USRP profile from GRC block parameters; the RF bandwidth
    follows the sample rate (the X310's UBX has a fixed one)."""
    raw = dict(backend="usrp", name="grc", args=args, model=model, center_freq_hz=center_freq_hz,
               sample_rate_hz=sample_rate_hz, **fields)
    if model != "x310":
        raw.setdefault("rf_bandwidth_hz", sample_rate_hz)
    return profile_from_dict(raw, source="GRC block")


class PlutoTokenTx(gr.hier_block2):
    """GRC block *TokenCom Pluto TX*: packet PDUs in, over the air by a Pluto.

    Input: message port ``pdus`` (link packets, e.g. from the TokenCom Text
    Encoder). Output: the ``complex64`` baseband handed to the Pluto (after
    ``amplitude``), for GUI sinks; it may be left unconnected.

    The OFDM stream is continuous (zeros when idle), so the gr-iio sink's
    buffer always fills and flushes.
    """

    def __init__(self, uri: str = "ip:192.168.2.1", center_freq_hz: float = 2.45e9,
                 sample_rate_hz: float = 2.5e6, rf_bandwidth_hz: float = 2.5e6,
                 tx_gain_db: float = -20.0, amplitude: float = 0.3, mcs: str = "qpsk-1/2",
                 gap_len: int = 400, buffer_size: int = 32768, extended_tuning: bool = False):
        gr.hier_block2.__init__(self, "tokencom_pluto_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.profile = _pluto_profile(uri, center_freq_hz, sample_rate_hz, rf_bandwidth_hz,
                                      buffer_size, extended_tuning, tx_gain_db=tx_gain_db,
                                      tx_amplitude=amplitude, mcs=mcs, gap_len=int(gap_len))
        wire_token_tx(self, make_pluto_sink(self.profile), mcs, gap_len, idle_fill=True,
                      amplitude=amplitude)

    def set_tx_gain_db(self, gain_db: float) -> None:
        self.sink.set_attenuation(0, -float(gain_db))

    def set_center_freq_hz(self, freq: float) -> None:
        self.sink.set_frequency(int(freq))


class PlutoTokenRx(gr.hier_block2):
    """GRC block *TokenCom Pluto RX*: a Pluto's samples to received packet PDUs.

    Output: message port ``pdus`` (raw packet bytes as decided by the OFDM
    receiver; the link CRC decides), and the ``complex64`` samples from the
    Pluto, for GUI sinks (may be left unconnected).
    """

    def __init__(self, uri: str = "ip:192.168.2.1", center_freq_hz: float = 2.45e9,
                 sample_rate_hz: float = 2.5e6, rf_bandwidth_hz: float = 2.5e6,
                 rx_gain_db: float = 40.0, gain_mode: str = "manual",
                 sync_threshold: float = DEFAULT_SYNC_THRESHOLD, buffer_size: int = 32768,
                 extended_tuning: bool = False):
        gr.hier_block2.__init__(self, "tokencom_pluto_rx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.profile = _pluto_profile(uri, center_freq_hz, sample_rate_hz, rf_bandwidth_hz,
                                      buffer_size, extended_tuning, rx_gain_db=rx_gain_db,
                                      rx_gain_mode=gain_mode, sync_threshold=sync_threshold)
        wire_token_rx(self, make_pluto_source(self.profile), sync_threshold)

    def set_rx_gain_db(self, gain_db: float) -> None:
        self.source.set_gain(0, float(gain_db))

    def set_center_freq_hz(self, freq: float) -> None:
        self.source.set_frequency(int(freq))


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
        self.profile = _usrp_profile(args, model, center_freq_hz, sample_rate_hz,
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
        self.profile = _usrp_profile(args, model, center_freq_hz, sample_rate_hz,
                                     rx_gain_db=rx_gain_db, rx_antenna=antenna,
                                     sync_threshold=sync_threshold)
        wire_token_rx(self, make_usrp_source(self.profile), sync_threshold)

    def set_rx_gain_db(self, gain_db: float) -> None:
        self.source.set_gain(float(gain_db), 0)
