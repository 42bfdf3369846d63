"""The ToDMA receiver: detection, clustering, sequence rebuild with collision
masking, and (optionally) context fill, each stage timed.

It needs nothing from the devices beyond the shared codebook, the number of
devices and the noise variance. It does not know which cluster is which
device: identifying the devices (an id token, a pilot) is outside this first
version, and scoring aligns clusters to devices separately
(:mod:`.scoring`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from .clustering import cluster_channels, estimate_scale, estimate_spread
from .detection import SlotDetections, detect_tokens
from .recovery import FILL_MODES, fill_text_sequences
from .sequences import DeviceSequences, rebuild_sequences

__all__ = ["ToDMAReceiver", "ReceivedSequences", "STAGES"]

#: Receiver stages, in order, as keys of :attr:`ReceivedSequences.stage_s`.
STAGES = ("detection", "clustering", "rebuild", "recovery")


@dataclass
class ReceivedSequences:
    """What the receiver made of one frame.

    Attributes
    ----------
    detections : SlotDetections
        Per-slot tokens and channel estimates, ``(N, M)``.
    sequences : DeviceSequences
        Rebuilt and masked sequences, ``(K, N)``, ordered by cluster.
    filled : np.ndarray or None, shape ``(K, N)``, dtype ``int64``
        Sequences after context fill (None without a context model).
    stage_s : dict of str to float
        Wall-clock seconds of each stage of :data:`STAGES` that ran.
    """

    detections: SlotDetections
    sequences: DeviceSequences
    filled: Optional[np.ndarray] = None
    stage_s: Dict[str, float] = field(default_factory=dict)


class ToDMAReceiver:
    """Receives superposed token codewords from ``num_devices`` devices.

    Parameters
    ----------
    codebook : np.ndarray, shape ``(L, Q)``, complex
        The shared modulation codebook ``U``.
    num_devices : int
        K, known to the receiver.
    gate_sigmas : float
        A token is taken as a device's (or a pair's) only within this many
        robust standard deviations of the cluster spread
        (:func:`~tokencom_sdr.todma.clustering.estimate_spread`).
    omp_margin : float
        Stopping margin of the detection (:mod:`.detection`).
    seed : int
        Seed of the k-means initialisation.
    fill : str
        Context fill of :data:`~tokencom_sdr.todma.recovery.FILL_MODES`:
        ``candidates`` (restricted to the slot's detected tokens) or ``free``.
    """

    def __init__(self, codebook: np.ndarray, num_devices: int, *, gate_sigmas: float = 4.0,
                 omp_margin: float = 3.0, seed: int = 0, fill: str = "candidates"):
        if num_devices < 1:
            raise ValueError(f"need at least one device, got {num_devices}")
        if fill not in FILL_MODES:
            raise ValueError(f"unknown fill {fill!r}; choose {', '.join(FILL_MODES)}")
        self.fill = fill
        self.codebook = codebook
        self.num_devices = num_devices
        self.gate_sigmas = gate_sigmas
        self.omp_margin = omp_margin
        self.seed = seed

    def receive(self, received: np.ndarray, noise_var: float, text_recovery=None,
                bits_per_token: int = 12, tokenizer_wire_id: int = 0) -> ReceivedSequences:
        """Run the receiver on one frame.

        Parameters
        ----------
        received : np.ndarray, shape ``(N, L)``, complex
            One row per slot.
        noise_var : float
            Noise variance per channel use.
        text_recovery : TextRecovery, optional
            Context model that fills the masked tokens; None skips the stage.
        bits_per_token, tokenizer_wire_id : int
            Of the text tokenizer (for the frames handed to the model).

        Returns
        -------
        ReceivedSequences
        """
        stage_s: Dict[str, float] = {}
        start = time.perf_counter()
        detections = detect_tokens(received, self.codebook, noise_var, self.num_devices,
                                   self.omp_margin)
        stage_s["detection"] = time.perf_counter() - start

        start = time.perf_counter()
        estimates = detections.gains[detections.valid]
        if estimates.size < self.num_devices:
            raise RuntimeError(f"only {estimates.size} tokens detected for "
                               f"{self.num_devices} devices: nothing to cluster")
        scale = estimate_scale(noise_var, self.codebook.shape[0], self.num_devices)
        centroids = cluster_channels(estimates, self.num_devices, scale, self.seed)
        # The measured spread, never below the expected one, sets the gate.
        gate = self.gate_sigmas * max(scale, estimate_spread(estimates, centroids))
        stage_s["clustering"] = time.perf_counter() - start

        start = time.perf_counter()
        sequences = rebuild_sequences(detections, centroids, gate)
        stage_s["rebuild"] = time.perf_counter() - start

        filled = None
        if text_recovery is not None:
            start = time.perf_counter()
            candidates = detections.tokens if self.fill == "candidates" else None
            filled = fill_text_sequences(sequences, text_recovery, bits_per_token,
                                         tokenizer_wire_id, candidates)
            stage_s["recovery"] = time.perf_counter() - start
        return ReceivedSequences(detections, sequences, filled, stage_s)
