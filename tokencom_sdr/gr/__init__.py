"""GNU Radio blocks of TokenCom-SDR, as placed in GRC (see ``blocks/*.block.yml``).

* :class:`TokenTextEncoder`: text -> packet PDUs (message block).
* :class:`TokenTextDecoder`: received packet PDUs -> text PDUs with metrics.
* :class:`OfdmStreamTx`: packet PDUs -> OFDM bursts on a continuous stream.
* Re-exported from the PHY and channel packages: :class:`OfdmBurstRx`,
  :class:`LoopbackChannel`.
"""

from ..channel.loopback_channel import LoopbackChannel
from ..phy.ofdm_rx import OfdmBurstRx
from .ofdm_stream_tx import BurstPadder, BurstStreamSource, OfdmStreamTx
from .text_decoder import TokenTextDecoder
from .text_encoder import TokenTextEncoder

__all__ = ["TokenTextEncoder", "TokenTextDecoder", "OfdmStreamTx", "BurstStreamSource",
           "BurstPadder", "OfdmBurstRx", "LoopbackChannel"]
