"""A transmitter sink that is a running flowgraph: a message-fed source into a radio's sink.

The Pluto's and the USRP's TX sinks (:mod:`.pluto`, :mod:`.usrp`) differ
in the source block and in how they pad and pace each message; this is
the part they share.
"""

import numpy as np

from .backend import TxSink

__all__ = ["FlowgraphTxSink"]


class FlowgraphTxSink(TxSink):
    """A started top block ``source -> sink``; IQ is posted to a message port of ``source``.

    Parameters
    ----------
    source : gr block
        Takes complex PDUs on a message port and produces the stream.
    sink : gr block
        The radio's ``complex64`` sink (or a stand-in in tests).
    name : str
        The top block's name.
    """

    def __init__(self, source, sink, name: str):
        from gnuradio import gr

        self.tb = gr.top_block(name, catch_exceptions=False)
        self.source, self.sink = source, sink
        self.tb.connect(source, sink)
        self.tb.start()

    def post(self, port: str, iq: np.ndarray) -> None:
        """Hand ``iq`` (shape ``(n,)``, ``complex64``) to the source as one PDU on ``port``."""
        import pmt

        vector = pmt.init_c32vector(len(iq), iq.tolist())
        self.source._post(pmt.intern(port), pmt.cons(pmt.make_dict(), vector))

    def close(self, interrupted: bool = False) -> None:
        """Stop the flowgraph (subclasses first wait for the samples to go out)."""
        self.tb.stop()
        self.tb.wait()
