"""Token-domain multiple access (ToDMA): K devices send token codewords at once.

Stages, one module each:

* :mod:`.codebook`: the shared complex Gaussian modulation codebook ``U`` (L x Q);
* :mod:`.transmitter`: K devices with flat-fading gains, superposed slot by slot
  (fast path) or as OFDM frames through the multi-device channel;
* :mod:`.ofdm_frame`: frames on the OFDM numerology (Schmidl & Cox preamble,
  pilots), frame detection, timing and CFO;
* :mod:`.detection`: OMP detection of each slot's tokens and their channel estimates;
* :mod:`.clustering`: k-means of the channel estimates into device centroids, K estimated;
* :mod:`.sequences`: each device's sequence by Hungarian matching (a start);
* :mod:`.joint_detection`: every device's token given the device channels;
* :mod:`.collisions`: tokens two or more devices share in a slot (masked);
* :mod:`.recovery`: the masked tokens filled by the text context model;
* :mod:`.receiver`: the stages in order, timed; :mod:`.scoring`: evaluation helpers.
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "gaussian_codebook": ".codebook",
    "UplinkFrame": ".transmitter", "rayleigh_gains": ".transmitter",
    "noise_variance": ".transmitter", "transmit_frame": ".transmitter",
    "device_samples": ".transmitter",
    "OfdmUplink": ".transmitter", "transmit_ofdm_frame": ".transmitter",
    "FrameLayout": ".ofdm_frame", "frame_waveforms": ".ofdm_frame",
    "detect_frame_start": ".ofdm_frame", "synchronise_frame": ".ofdm_frame",
    "SynchronisedFrame": ".ofdm_frame", "start_from_mark": ".ofdm_frame",
    "detect_with_channels": ".joint_detection", "devices_in_clouds": ".clustering",
    "SlotDetections": ".detection", "detect_tokens": ".detection",
    "cluster_channels": ".clustering", "estimate_spread": ".clustering",
    "estimate_scale": ".clustering",
    "collision_positions": ".collisions",
    "DeviceSequences": ".sequences", "rebuild_sequences": ".sequences",
    "fill_text_sequences": ".recovery", "FILL_MODES": ".recovery",
    "ToDMAReceiver": ".receiver", "ReceivedSequences": ".receiver", "STAGES": ".receiver",
    "align_sequences": ".scoring", "aligned": ".scoring",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
