"""The token TX/RX chain inside the GRC radio blocks, whatever the radio.

``PlutoTokenTx``/``UsrpTokenTx`` and ``PlutoTokenRx``/``UsrpTokenRx`` differ
only in the sink or source they drive; these functions wire the rest.
"""

from gnuradio import blocks, gr


def wire_token_tx(block: gr.hier_block2, sink, mcs: str, gap_len: int, idle_fill: bool,
                  amplitude: float) -> None:
    """Message port ``pdus`` -> OFDM stream TX -> ``amplitude`` -> ``sink``;
    the scaled stream is also ``block``'s output (for GUI sinks)."""
    from .ofdm_stream_tx import OfdmStreamTx

    block.message_port_register_hier_in("pdus")
    block.tx = OfdmStreamTx(mcs=mcs, gap_len=int(gap_len), idle_fill=idle_fill)
    block.scale = blocks.multiply_const_cc(float(amplitude))
    block.sink = sink
    block.msg_connect(block, "pdus", block.tx, "pdus")
    block.connect(block.tx, block.scale, block.sink)
    block.connect(block.scale, block)


def wire_token_rx(block: gr.hier_block2, source, sync_threshold: float) -> None:
    """``source`` -> OFDM RX, whose ``pdus`` and ``symbols`` message ports
    become ``block``'s; the samples are also ``block``'s output."""
    from ..phy.ofdm_rx import OfdmBurstRx

    block.message_port_register_hier_out("pdus")
    block.message_port_register_hier_out("symbols")
    block.source = source
    block.rx = OfdmBurstRx(sync_threshold)
    block.connect(block.source, block.rx)
    block.connect(block.source, block)
    block.msg_connect(block.rx, "pdus", block, "pdus")
    block.msg_connect(block.rx, "symbols", block, "symbols")
