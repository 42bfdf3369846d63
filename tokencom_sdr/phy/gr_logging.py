"""Quiet GNU Radio's per-packet info logging.

GNU Radio's OFDM header parser and demux (in the stock receiver that the
benchmarks and PER sweeps run as a reference) log every rejected header at
"info" level. At low SNR, or with a low sync threshold on noise, that is
thousands of lines that drown the results; our own counters report the same
facts.
"""

from gnuradio import gr


def quiet_gnuradio_logging(level=gr.log_levels.warn) -> None:
    """Set GNU Radio's default log level (for blocks created afterwards)."""
    gr.logging().set_default_level(level)
