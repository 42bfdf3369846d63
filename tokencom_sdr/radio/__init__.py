"""Real radios and their profiles.

* :mod:`.profile`: ``hw_configs/*.yaml`` loaded and validated, UHD-style overrides.
* :mod:`.pluto`: ADALM-Pluto through gr-iio (and the GRC blocks TokenCom Pluto TX/RX).
* :mod:`.usrp`: USRPs through gr-uhd, tx_sob/tx_eob bursts (TokenCom USRP TX/RX).
* :mod:`.zmq_radio`: the ZMQ virtual radio (PUSH/PULL IQ between processes).
* :mod:`.sigmf_file`: SigMF recordings with one annotation per packet.
* :mod:`.burst_probe`: where each received packet lies in the sample stream.
* :mod:`.errors`: one clear line when a device is missing.

Driver modules (gr-iio, gr-uhd, zmq, sigmf) are imported only when used.
"""
