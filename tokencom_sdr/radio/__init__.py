"""Radios and their profiles.

One small backend interface (:mod:`.backend`: validate a profile, make a
source, make a sink), looked up by a profile's ``backend`` name
(:func:`get_backend`):

* :mod:`.pluto`: ADALM-Pluto through gr-iio.
* :mod:`.usrp`: USRPs through gr-uhd, tx_sob/tx_eob bursts.
* :mod:`.zmq_radio`: the ZMQ virtual radio (PUSH/PULL IQ between processes).
* :mod:`.sigmf_backend`: a SigMF recording played as a source, written as a sink.
* :mod:`.loopback`: the software channel between TX and RX in one process.

And around them:

* :mod:`.profile`: the YAML profiles (shipped in ``profiles/``), loaded and
  validated, UHD-style overrides.
* :mod:`.checks`: the range checks and number formats the backends share.
* :mod:`.sigmf_file`: SigMF recordings with one annotation per packet;
  :mod:`.sigmf_meta`: their metadata read strictly.
* :mod:`.array_source`: a sample array as a finite GNU Radio source.
* :mod:`.errors`: one clear line when a device is missing.

The GRC radio blocks are in :mod:`tokencom_sdr.gr.radio_blocks`. Driver
modules (gr-iio, gr-uhd, zmq, sigmf) are imported only when used.
"""

from .backend import RadioBackend, TxSink
from .backends import backend_names, get_backend
from .checks import ProfileError
from .errors import RadioUnavailableError
from .profile import RadioProfile, available_profiles, load_profile, profile_from_dict

__all__ = ["RadioBackend", "TxSink", "get_backend", "backend_names", "ProfileError",
           "RadioUnavailableError", "RadioProfile", "load_profile", "profile_from_dict",
           "available_profiles"]
