"""Message ports on a GNU Radio hier block that do not keep it alive forever.

GNU Radio 3.10 never frees a ``hier_block2`` whose own message port is
connected to an inner block (gnuradio#7706): ``msg_connect`` with the hier
itself as one end stores a shared pointer to the hier in the hier's own
block list and message edges, a reference cycle that C++ never breaks. The
hier, every block inside it and their stream buffers (about 60 SysV
shared-memory mappings for the OFDM receiver) then outlive the flowgraph, and
a process that builds many flowgraphs runs out of shared memory.

:func:`export_message_output` and :func:`export_message_input` wire the port
as usual and also break the cycle once the hier's Python object is gone:
they remove the hier's message edges and clear its block list, after which
GNU Radio frees it with its top block. (A hier block whose Python object is
dropped while its flowgraph still runs is already broken in GNU Radio: the
Python blocks inside it are gone too.)
"""

import weakref

import pmt
from gnuradio import gr

__all__ = ["export_message_output", "export_message_input"]


def export_message_output(hier: gr.hier_block2, block, port: str, block_port: str = None) -> None:
    """Make ``block``'s output message port ``block_port`` (default ``port``)
    the hier's output message port ``port``."""
    hier.message_port_register_hier_out(port)
    _connect(hier, block, block_port or port, hier, port)


def export_message_input(hier: gr.hier_block2, port: str, block, block_port: str = None) -> None:
    """Make the hier's input message port ``port`` feed ``block``'s input
    message port ``block_port`` (default ``port``)."""
    hier.message_port_register_hier_in(port)
    _connect(hier, hier, port, block, block_port or port)


def _connect(hier, src, src_port: str, dst, dst_port: str) -> None:
    hier.msg_connect(src, src_port, dst, dst_port)
    edges = getattr(hier, "_exported_message_edges", None)
    if edges is None:
        edges = hier._exported_message_edges = []
        # The finalizer holds the C++ hier and the edges, never the Python
        # object: it runs when that object is collected.
        release = weakref.finalize(hier, _release, hier._impl, edges)
        # At interpreter exit a flowgraph may still be running: leave it be.
        release.atexit = False
    edges.append((src.to_basic_block(), pmt.intern(src_port), dst.to_basic_block(),
                  pmt.intern(dst_port)))


def _release(impl, edges) -> None:
    """Break the hier's self-references (its message edges, its block list)."""
    for src, src_port, dst, dst_port in edges:
        try:
            impl.primitive_msg_disconnect(src, src_port, dst, dst_port)
        except RuntimeError:
            # An input port's edge is gone by then; only unsubscribing the
            # hier's own port, which never subscribed, fails.
            pass
    impl.disconnect_all()
    edges.clear()
