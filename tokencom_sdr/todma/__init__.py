"""Token-domain multiple access (ToDMA): K devices send token codewords at once.

Stages, one module each:

* :mod:`.codebook`: the shared complex Gaussian modulation codebook ``U`` (L x Q);
* :mod:`.transmitter`: K devices with flat-fading gains, superposed slot by slot, plus noise;
* :mod:`.detection`: OMP detection of each slot's tokens and their channel estimates;
* :mod:`.clustering`: k-means of the channel estimates into K device centroids;
* :mod:`.collisions`: tokens whose estimate is the sum of two devices' channels;
* :mod:`.sequences`: each device's sequence by Hungarian matching, collisions masked;
* :mod:`.recovery`: the masked tokens filled by the text context model;
* :mod:`.receiver`: the stages in order, timed; :mod:`.scoring`: evaluation helpers.
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "gaussian_codebook": ".codebook",
    "UplinkFrame": ".transmitter", "rayleigh_gains": ".transmitter",
    "noise_variance": ".transmitter", "transmit_frame": ".transmitter",
    "ofdm_samples": ".transmitter", "device_samples": ".transmitter",
    "SlotDetections": ".detection", "detect_tokens": ".detection",
    "cluster_channels": ".clustering", "estimate_spread": ".clustering",
    "estimate_scale": ".clustering",
    "find_pair_collisions": ".collisions",
    "DeviceSequences": ".sequences", "rebuild_sequences": ".sequences",
    "fill_text_sequences": ".recovery", "FILL_MODES": ".recovery",
    "ToDMAReceiver": ".receiver", "ReceivedSequences": ".receiver", "STAGES": ".receiver",
    "align_clusters": ".scoring", "collision_positions": ".scoring",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
