"""The applications above the layers: what ``tokencom`` and notebooks run.

* :mod:`.api`: the Python API (:func:`text_to_iq`, :func:`image_to_iq`,
  :func:`receive_iq`).
* :mod:`.loopback`: one message through TX, software channel and RX, scored.
* :mod:`.tx`, :mod:`.rx`, :mod:`.rx_report`: the radio transmitter and the
  streaming receiver (flowgraph, runner, reports).
* :mod:`.grc_check`: which blocks of a flowgraph GRC cannot find.
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "text_to_iq": ".api", "image_to_iq": ".api", "frame_to_iq": ".api", "receive_iq": ".api",
    "LinkConfig": ".loopback", "run_text_loopback": ".loopback", "run_image_loopback": ".loopback",
    "RxFlowgraph": ".rx", "RxOptions": ".rx", "run_receiver": ".rx", "Expected": ".rx_report",
    "run_transmitter": ".tx", "make_messages": ".tx",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
