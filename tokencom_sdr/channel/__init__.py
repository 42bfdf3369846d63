"""Channels between transmitter and receiver, in software.

* :class:`LoopbackChannel` (:mod:`.loopback_channel`): AWGN at a burst SNR,
  carrier and sample-clock offset and multipath, as a GNU Radio block.
* :class:`SoftBitChannel` (:mod:`.soft_bit_channel`): packets' bits as BPSK
  over AWGN with exact LLRs (a fast packet-level stand-in for a soft PHY).
* :class:`PacketErasureChannel` (:mod:`.packet_erasure`): packets lost by a
  loss model (:mod:`.loss_models`: i.i.d., Gilbert-Elliott, Yajnik's EP1-EP6).
* :func:`superpose_devices` (:mod:`.multi_device`): K devices' waveforms,
  each with its gain, timing offset and CFO, summed with noise (ToDMA).
"""

from .loopback_channel import LoopbackChannel
from .loss_models import LOSS_MODEL_NAMES, MarkovLossModel, make_loss_model
from .multi_device import DeviceOffsets, superpose_devices
from .mobility import DELAY_PROFILES, FadingSpec, FrontEndSpec
from .packet_erasure import PacketErasureChannel
from .soft_bit_channel import SoftBitChannel, bpsk_bit_error_rate

__all__ = ["LoopbackChannel", "MarkovLossModel", "make_loss_model", "LOSS_MODEL_NAMES", "FadingSpec", "FrontEndSpec", "DELAY_PROFILES", "SoftBitChannel", "PacketErasureChannel", "bpsk_bit_error_rate", "DeviceOffsets", "superpose_devices"]
