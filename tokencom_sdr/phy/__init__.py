"""OFDM physical layer: GNU Radio hierarchical blocks built from gr-digital,
and the per-burst numpy work behind them.

* :class:`OfdmBurstTx`, :class:`OfdmBurstRx` (:mod:`.ofdm_tx`, :mod:`.ofdm_rx`):
  packets -> bursts -> :class:`ReceivedBurst` s.
* :class:`ReceivedBurst` (:mod:`.received_burst`): the one PHY -> link type,
  with its one PMT encoding.
* :func:`modulate`, :func:`demodulate`, :func:`run_phy_loopback`
  (:mod:`.modem`): the PHY as functions over finite IQ.
* :class:`OfdmParams`, :func:`get_mcs`, ``MCS_NAMES``: numerology and MCS table.
* :mod:`.non_finite_guard`: NaN and Inf samples kept out of the receiver's
  synchronisation and zeroed (and counted) before it decodes; :mod:`.hier_message_ports`: hier-block message
  ports that do not keep a flowgraph alive (gnuradio#7706).
"""

from .gr_logging import quiet_gnuradio_logging

quiet_gnuradio_logging()

from .mcs import MCS_NAMES, get_mcs  # noqa: E402  (after the logging is quieted)
from .modem import demodulate, modulate, run_phy_loopback  # noqa: E402
from .ofdm_params import OfdmParams  # noqa: E402
from .ofdm_rx import DEFAULT_SYNC_THRESHOLD, OfdmBurstRx  # noqa: E402
from .ofdm_tx import OfdmBurstTx  # noqa: E402
from .received_burst import ReceivedBurst  # noqa: E402

__all__ = ["OfdmBurstTx", "OfdmBurstRx", "DEFAULT_SYNC_THRESHOLD", "ReceivedBurst",
           "modulate", "demodulate", "run_phy_loopback", "OfdmParams", "get_mcs", "MCS_NAMES"]
