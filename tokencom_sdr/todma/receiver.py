"""The ToDMA receiver: frame synchronisation, detection, clustering, sequence
rebuild, joint detection with collision masking, and (optionally) context
fill, each stage timed.

It needs nothing from the devices beyond the shared codebook and the noise
variance: the number of devices is estimated from the clustering
(:mod:`.clustering`) unless it is given. It does not know which cluster is
which device: identifying the devices (an id token, a pilot) is outside this
version, and scoring pairs its sequences with the devices by their content
(:mod:`.scoring`), at scoring time only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from .clustering import cluster_channels, common_rotation, estimate_scale, estimate_spread
from .collisions import collision_positions
from .detection import SlotDetections, detect_tokens
from .joint_detection import detect_with_channels
from .ofdm_frame import (FrameLayout, SynchronisedFrame, detect_frame_start, refine_synchronisation,
                         synchronise_frame)
from .recovery import FILL_MODES, fill_text_sequences
from .sequences import DeviceSequences, rebuild_sequences

__all__ = ["ToDMAReceiver", "ReceivedSequences", "STAGES"]

#: Receiver stages, in order, as keys of :attr:`ReceivedSequences.stage_s`.
STAGES = ("synchronisation", "detection", "clustering", "rebuild", "joint_detection",
          "recovery")

#: A common phase error (delay or CFO) the decisions reveal, in radians over
#: the frame, beyond which the frame is received a second time.
RESYNC_RADIANS = 0.02
RESYNC_PASSES = 3

#: Most devices the receiver looks for when it is not told K (OMP's atom cap;
#: a slot where OMP went wrong runs up to it, so it costs time).
DEFAULT_MAX_DEVICES = 24


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
    frame : SynchronisedFrame or None
        Timing and CFO of the frame, when it came as samples.
    joint_tokens : np.ndarray or None, shape ``(K, N)``, dtype ``int64``
        Every device's decided token, collided ones included (before masking).
    rotation : float
        Common phase step per slot taken off (:func:`~.clustering.common_rotation`).

    ``K`` is the receiver's number of devices: the estimate unless it was given.
    """

    detections: SlotDetections
    sequences: DeviceSequences
    filled: Optional[np.ndarray] = None
    stage_s: Dict[str, float] = field(default_factory=dict)
    frame: Optional[SynchronisedFrame] = None
    joint_tokens: Optional[np.ndarray] = None
    rotation: float = 0.0

    @property
    def devices(self) -> int:
        """K, the number of device sequences."""
        return int(self.sequences.tokens.shape[0])


class ToDMAReceiver:
    """Receives superposed token codewords from ``num_devices`` devices.

    Parameters
    ----------
    codebook : np.ndarray, shape ``(L, Q)``, complex
        The shared modulation codebook ``U``.
    num_devices : int or None
        K when the receiver is told it; None (the default) estimates it
        from the clustering (:mod:`.clustering`).
    max_devices : int
        Most devices looked for when K is estimated: the atom cap of the
        detection (at most L).
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

    def __init__(self, codebook: np.ndarray, num_devices: Optional[int] = None, *,
                 max_devices: int = DEFAULT_MAX_DEVICES,
                 gate_sigmas: float = 4.0, omp_margin: float = 3.0, seed: int = 0,
                 fill: str = "candidates"):
        if num_devices is not None and num_devices < 1:
            raise ValueError(f"need at least one device, got {num_devices}")
        if max_devices < 1:
            raise ValueError(f"max_devices must be >= 1, got {max_devices}")
        if fill not in FILL_MODES:
            raise ValueError(f"unknown fill {fill!r}; choose {', '.join(FILL_MODES)}")
        self.fill = fill
        self.codebook = codebook
        self.num_devices = num_devices
        self.max_devices = min(max_devices, codebook.shape[0])
        self.gate_sigmas = gate_sigmas
        self.omp_margin = omp_margin
        self.seed = seed

    @staticmethod
    def _nothing_found(detections: SlotDetections, num_slots: int,
                       stage_s: Dict[str, float]) -> ReceivedSequences:
        """The result of a frame in which no device was found (K = 0)."""
        empty = np.zeros((0, num_slots), dtype=np.int64)
        sequences = DeviceSequences(tokens=empty, erased=empty.astype(bool),
                                    collision=empty.astype(bool),
                                    centroids=np.zeros(0, dtype=np.complex128))
        return ReceivedSequences(detections, sequences, empty.copy(), stage_s,
                                 joint_tokens=empty.copy())

    def receive_samples(self, samples: np.ndarray, noise_var: float, layout: FrameLayout,
                        start: Optional[int] = None, text_recovery=None,
                        bits_per_token: int = 12, tokenizer_wire_id: int = 0) -> ReceivedSequences:
        """Synchronise to a frame on the OFDM numerology and receive it.

        Parameters
        ----------
        samples : np.ndarray, shape ``(m,)``, complex
            Received samples holding one frame (:mod:`.ofdm_frame`).
        noise_var : float
            Noise variance per sample (= per data subcarrier-symbol).
        layout : FrameLayout
            Slots and codeword length of the frame.
        start : int, optional
            Where the frame starts, if a detector already said; else the
            PHY's Schmidl & Cox detector finds it (no preamble found: a
            result with no device, ``frame`` None).
        text_recovery, bits_per_token, tokenizer_wire_id
            As for :meth:`receive`.

        Returns
        -------
        ReceivedSequences
        """
        if layout.codeword_len != self.codebook.shape[0]:
            raise ValueError(f"frame slots of {layout.codeword_len} symbols do not match the "
                             f"codebook's {self.codebook.shape[0]}")
        begin = time.perf_counter()
        if start is None:
            try:
                start = detect_frame_start(samples, layout.params)
            except ValueError:
                # No preamble: nothing heard (the devices' gains can cancel in
                # the preamble's sum), which is a result, not an error.
                empty = np.full((layout.slots, 0), -1, dtype=np.int64)
                return self._nothing_found(SlotDetections(tokens=empty, gains=empty.astype(complex)),
                                           layout.slots,
                                           {"synchronisation": time.perf_counter() - begin})
        frame = synchronise_frame(samples, start, layout)
        seconds = time.perf_counter() - begin
        # A first pass without the fill gives decisions; the common delay and
        # CFO they reveal are taken off (refine_synchronisation) and the frame
        # is received again while that moves some symbol by more than
        # RESYNC_RADIANS, at most RESYNC_PASSES times (each pass's better
        # decisions give a better estimate).
        first = self.receive(frame.slots, noise_var)
        spent = dict(first.stage_s)  # every pass's stage times, summed
        for _ in range(RESYNC_PASSES):
            if not first.devices:
                break
            begin = time.perf_counter()
            # The decisions were made on slots turned by the common rotation.
            frame.slots = frame.slots * np.exp(-1j * first.rotation * np.arange(layout.slots))[:, None]
            model = np.einsum("k,knl->nl", first.sequences.centroids,
                              self.codebook.T[first.joint_tokens].astype(np.complex128))
            correction = refine_synchronisation(frame.slots, model, layout)
            seconds += time.perf_counter() - begin
            if np.max(np.abs(np.angle(correction * np.conj(correction.flat[0])))) <= RESYNC_RADIANS:
                break
            frame.slots = frame.slots * correction
            first = self.receive(frame.slots, noise_var)
            for stage, value in first.stage_s.items():
                spent[stage] = spent.get(stage, 0.0) + value
        result = first
        result.stage_s = spent
        if text_recovery is not None:
            self._recover(result, text_recovery, bits_per_token, tokenizer_wire_id)
        result.frame = frame
        result.stage_s = {"synchronisation": seconds, **result.stage_s}
        return result

    def receive(self, received: np.ndarray, noise_var: float, text_recovery=None,
                bits_per_token: int = 12, tokenizer_wire_id: int = 0) -> ReceivedSequences:
        """Run the receiver on one frame's slots.

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
        num_slots = received.shape[0]
        start = time.perf_counter()
        cap = self.num_devices or self.max_devices
        detections = detect_tokens(received, self.codebook, noise_var, cap, self.omp_margin)
        stage_s["detection"] = time.perf_counter() - start

        start = time.perf_counter()
        estimates = detections.gains[detections.valid]
        if estimates.size < (self.num_devices or 1):
            return self._nothing_found(detections, num_slots, stage_s)
        # Over-clustering's scale: most slots' token count (a few slots
        # with spurious atoms would only slow k-means down).
        upper = max(int(np.ceil(np.percentile(detections.counts, 90))), 1)
        scale = estimate_scale(noise_var, self.codebook.shape[0], self.num_devices or upper)
        # A common CFO the preamble left (its estimate is noisy when the
        # devices' gains nearly cancel in the sum it sees) turns all clouds
        # alike from slot to slot: found from the clouds' tightness, taken
        # off the estimates and the slots (OMP's choices do not depend on a
        # slot's common phase).
        slot_of = np.nonzero(detections.valid)[0]
        step = common_rotation(estimates, slot_of, scale)
        if step:
            turn = np.exp(-1j * step * np.arange(num_slots))
            received = received * turn[:, None]
            detections = SlotDetections(tokens=detections.tokens,
                                        gains=detections.gains * turn[:, None])
            estimates = detections.gains[detections.valid]
        try:
            centroids = cluster_channels(estimates, self.num_devices, scale, self.seed,
                                         slots=num_slots, max_devices=upper)
        except RuntimeError:  # no cloud big enough to be a device
            return self._nothing_found(detections, num_slots, stage_s)
        # The measured spread, never below the expected one, sets the gate.
        gate = self.gate_sigmas * max(scale, estimate_spread(estimates, centroids))
        stage_s["clustering"] = time.perf_counter() - start

        start = time.perf_counter()
        initial = rebuild_sequences(detections, centroids, gate)
        stage_s["rebuild"] = time.perf_counter() - start

        start = time.perf_counter()
        tokens = detect_with_channels(received, self.codebook, centroids,
                                      np.where(initial.erased, -1, initial.tokens), detections,
                                      noise_var, self.omp_margin)
        collided = collision_positions(tokens)
        sequences = DeviceSequences(tokens=np.where(collided, 0, tokens), erased=collided,
                                    collision=collided.copy(), centroids=centroids)
        stage_s["joint_detection"] = time.perf_counter() - start

        result = ReceivedSequences(detections, sequences, None, stage_s, joint_tokens=tokens,
                                   rotation=step)
        if text_recovery is not None:
            self._recover(result, text_recovery, bits_per_token, tokenizer_wire_id)
        return result

    def _recover(self, result: ReceivedSequences, text_recovery, bits_per_token: int,
                 tokenizer_wire_id: int) -> None:
        """The context fill of a received frame, in place (``filled`` and its time)."""
        start = time.perf_counter()
        candidates = None
        if self.fill == "candidates":
            # The slot's detected tokens and the joint decisions (a collided
            # token is among both).
            candidates = np.concatenate([result.detections.tokens, result.joint_tokens.T], axis=1)
        result.filled = fill_text_sequences(result.sequences, text_recovery, bits_per_token,
                                            tokenizer_wire_id, candidates)
        result.stage_s["recovery"] = time.perf_counter() - start
