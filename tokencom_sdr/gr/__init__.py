"""GNU Radio blocks of TokenCom-SDR, as placed in GRC (``blocks/*.block.yml``
import from here and nowhere else). Each is a thin wrapper over the layers
below; none holds a receive state machine of its own.

* :class:`TokenTextEncoder`, :class:`TokenImageEncoder`: a message -> packet PDUs.
* :class:`TokenTextDecoder`, :class:`TokenImageDecoder`: received PDUs ->
  recovered text or images, through the receiver library
  (:class:`~tokencom_sdr.link.receiver.StreamReceiver`).
* :class:`OfdmStreamTx`: packet PDUs -> OFDM bursts on a continuous stream.
* :class:`OfdmBurstRx` (the PHY's receiver) and :class:`LoopbackChannel`
  (the software channel), re-exported; :func:`loopback_channel_block`
  builds the latter from the GRC block's flat parameters (fading profile,
  Doppler, front-end impairments).
* :mod:`.radio_blocks`: Pluto and USRP token TX/RX blocks.
* :class:`ZmqIqSource`: a ZMQ PULL source that survives malformed messages.
* :class:`TodmaDeviceTx`, :class:`TodmaTextRx`: token-domain multiple access
  (:mod:`tokencom_sdr.todma`), one device's codeword stream and the receiver.
"""

from ..channel.loopback_channel import LoopbackChannel
from ..phy.ofdm_rx import OfdmBurstRx
from ..radio.zmq_source import ZmqIqSource
from .channel_block import loopback_channel_block
from .image_decoder import TokenImageDecoder
from .image_encoder import TokenImageEncoder
from .ofdm_stream_tx import OfdmStreamTx
from .text_decoder import TokenTextDecoder
from .text_encoder import TokenTextEncoder
from .todma_blocks import TodmaDeviceTx, TodmaTextRx

__all__ = ["TokenTextEncoder", "TokenTextDecoder", "TokenImageEncoder", "TokenImageDecoder",
           "OfdmStreamTx", "OfdmBurstRx", "LoopbackChannel", "loopback_channel_block",
           "ZmqIqSource", "TodmaDeviceTx", "TodmaTextRx"]
