"""OFDM physical layer: GNU Radio hierarchical blocks built from gr-digital."""

from .gr_logging import quiet_gnuradio_logging

quiet_gnuradio_logging()
