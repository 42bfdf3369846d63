"""TokenCom-SDR: token communication over a real OFDM radio link.

The data path, one subpackage per stage::

    tokens/   source -> token ids (text BPE, image VQ) and back
    link/     token frame -> packets (header, CRC) -> frame with erasures
    phy/      packets -> OFDM IQ bursts -> packets (GNU Radio hier blocks)
    channel/  software channel between TX and RX (noise, CFO, SCO, multipath)
    radio/    real radios and their profiles
    context/  context-aware recovery of erased tokens
    gr/       GNU Radio blocks placed in GRC
"""

__version__ = "0.1.0"
