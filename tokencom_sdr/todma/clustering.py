"""Clustering of the token-associated channel estimates into devices.

A device's channel is the same in all N slots of a frame, so the estimates
of the tokens it sent form one tight cloud (standard deviation ``scale``,
about the noise level) around its gain in the complex plane. Collisions
(sums of two gains) and the rare spurious detection are scattered outliers.

Plain k-means with K clusters fails here in a typical way: it spends a
centroid on the outliers and merges two devices whose gains are close,
because that lowers the squared error. So the clustering is done in three
steps:

1. **Over-cluster**: k-means (scikit-learn, k-means++ init) with ``3 K``
   clusters, enough for the outliers to get their own small clusters and
   for close devices to be split.
2. **Merge and select**: centroids closer than ``merge_scales * scale``
   belong to one device (k-means splits a big cloud in two) and are merged,
   weighted by their sizes; the K most populated remain.
3. **Trimmed refinement**: a few Lloyd iterations in which a centroid moves
   to the mean of the points assigned to it *within* ``trim_scales * scale``,
   so outliers pull no centroid.

Number of devices (when the receiver is not told K)
---------------------------------------------------
Every active device sends one token in each of the frame's ``N`` slots, so
its cloud holds about ``N`` estimates (fewer only where it collided or OMP
missed it), while a collision sum or a spurious atom gives a handful. After
the merge, a cloud of ``s`` estimates is taken as ``round(s / N)`` devices
when ``s >= N / 2`` and as none otherwise: two devices whose gains are too
close to split give one cloud of about ``2 N`` and count twice (they keep
one centroid each, at the same place). Over-clustering then uses ``3 K_up``
clusters, ``K_up`` being the most tokens OMP found in any slot.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from sklearn.cluster import KMeans

__all__ = ["cluster_channels", "estimate_spread", "estimate_scale", "devices_in_clouds",
           "common_rotation"]


def common_rotation(estimates: np.ndarray, slots: np.ndarray, scale: float,
                    max_step: float = 0.1, resolutions=(0.2, 0.02)) -> float:
    """The phase step per slot that makes the estimates' clouds tightest.

    A common frequency offset the preamble left turns every device's channel
    by the same angle from one slot to the next, so each cloud stretches
    into an arc. Each candidate step ``s`` turns estimate ``e`` of slot ``n``
    back by ``s n``, and the 2-D histogram of the result (bins of ``scale``)
    is scored by the sum of its squared counts, which is largest when the
    clouds are tightest. The search runs coarse to fine: steps from
    ``-max_step`` to ``max_step`` radians per slot spaced so that the
    frame's last slot moves by ``resolutions[0]``, then around the best one
    at ``resolutions[1]``, and so on. (0.1 radians a slot is 1.5e-4 cycles
    per sample at L = 64: what a preamble whose sum of device gains nearly
    cancels can leave.)

    Parameters
    ----------
    estimates : np.ndarray, shape ``(P,)``, complex
    slots : np.ndarray, shape ``(P,)``, integer
        Slot of each estimate.
    scale : float
        Spread of one estimate (:func:`estimate_scale`).
    max_step : float
        Radians per slot.
    resolutions : sequence of float
        Radians over the frame, one per stage of the search.

    Returns
    -------
    float
        The step, radians per slot.
    """
    estimates = np.asarray(estimates, dtype=np.complex128).reshape(-1)
    slots = np.asarray(slots, dtype=np.float64).reshape(-1)
    if estimates.size < 2 or slots.max(initial=0) == 0:
        return 0.0
    reach = np.abs(estimates).max() + scale
    edges = np.arange(-reach, reach + scale, scale)
    best, low, high = 0.0, -max_step, max_step
    for resolution in resolutions:
        spacing = resolution / slots.max()
        best_score = -1.0
        for step in np.arange(low, high + spacing / 2, spacing):
            turned = estimates * np.exp(-1j * step * slots)
            counts, _, _ = np.histogram2d(turned.real, turned.imag, bins=(edges, edges))
            score = float(np.sum(counts ** 2))
            if score > best_score:
                best, best_score = float(step), score
        low, high = best - spacing, best + spacing
    return best


def devices_in_clouds(sizes: np.ndarray, slots: int) -> np.ndarray:
    """How many devices each merged cloud holds (module docstring).

    Parameters
    ----------
    sizes : np.ndarray, shape ``(C,)``
        Estimates per cloud.
    slots : int
        ``N``, slots of the frame.

    Returns
    -------
    np.ndarray, shape ``(C,)``, dtype ``int64``
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    return np.where(sizes >= slots / 2, np.rint(sizes / slots), 0).astype(np.int64)


def estimate_scale(noise_var: float, codeword_len: int, num_devices: int) -> float:
    """Expected standard deviation of one token-associated channel estimate.

    The least-squares error of a unit-norm atom fitted together with
    ``K - 1`` others has variance about ``noise_var / (1 - (K - 1) / L)``
    (the inverse Gram matrix of random atoms); the value is floored at
    ``noise_var`` when ``K`` comes close to ``L``.
    """
    shrink = max(1.0 - (num_devices - 1) / codeword_len, 0.25)
    return float(np.sqrt(noise_var / shrink))


def _merge_close(centroids: np.ndarray, sizes: np.ndarray, radius: float):
    """Merge centroids closer than ``radius``, largest first; size-weighted means."""
    order = np.argsort(-sizes)
    merged_centroids, merged_sizes = [], []
    for index in order:
        for slot, centre in enumerate(merged_centroids):
            if abs(centroids[index] - centre) < radius:
                total = merged_sizes[slot] + sizes[index]
                merged_centroids[slot] = (centre * merged_sizes[slot]
                                          + centroids[index] * sizes[index]) / max(total, 1)
                merged_sizes[slot] = total
                break
        else:
            merged_centroids.append(centroids[index])
            merged_sizes.append(sizes[index])
    return np.array(merged_centroids), np.array(merged_sizes)


def cluster_channels(estimates: np.ndarray, num_devices: Optional[int], scale: float,
                     seed: int = 0, merge_scales: float = 2.5, trim_scales: float = 3.0,
                     refinements: int = 10, slots: Optional[int] = None,
                     max_devices: Optional[int] = None) -> np.ndarray:
    """Centroids of the channel estimates, one per device.

    Parameters
    ----------
    estimates : np.ndarray, shape ``(P,)``, complex
        Every detected token's channel estimate, over all slots of a frame.
    num_devices : int or None
        K (at most ``P``); None: estimated (module docstring), which needs
        ``slots`` and ``max_devices``.
    scale : float
        Expected standard deviation of one estimate around its device's
        gain (:func:`estimate_scale`).
    seed : int
        Seed of the k-means++ initialisation.
    merge_scales, trim_scales : float
        Merge and trimming radii in units of ``scale`` (module docstring).
    refinements : int
        Trimmed Lloyd iterations.
    slots : int, optional
        ``N``, slots of the frame (for the estimate of K).
    max_devices : int, optional
        ``K_up``: the over-clustering's scale when K is estimated.

    Returns
    -------
    np.ndarray, shape ``(K,)``, dtype ``complex128``
        The centroids, in no particular order (a receiver does not know the
        devices' identities); ``K`` is the estimate when ``num_devices`` is None.
    """
    estimates = np.asarray(estimates, dtype=np.complex128).reshape(-1)
    if num_devices is None:
        if not slots or not max_devices or max_devices < 1:
            raise ValueError("estimating the number of devices needs slots and max_devices >= 1")
        upper = max_devices
    else:
        upper = num_devices
    if upper < 1 or estimates.size < upper:
        raise ValueError(f"cannot find {upper} devices in {estimates.size} estimates")
    points = np.column_stack([estimates.real, estimates.imag])
    over = min(3 * upper, estimates.size)
    kmeans = KMeans(n_clusters=over, n_init=3, random_state=seed).fit(points)
    centroids = kmeans.cluster_centers_[:, 0] + 1j * kmeans.cluster_centers_[:, 1]
    sizes = np.bincount(kmeans.labels_, minlength=over).astype(float)
    centroids, sizes = _merge_close(centroids, sizes, merge_scales * scale)
    if num_devices is None:
        counts = devices_in_clouds(sizes, slots)
        if counts.sum() == 0:
            raise RuntimeError(f"no cloud of at least {slots / 2:g} estimates: no device found")
        # A cloud of m devices keeps m centroids at one place, biggest clouds first.
        order = np.argsort(-sizes)
        centroids = np.repeat(centroids[order], counts[order])
        sizes = np.repeat(sizes[order] / np.maximum(counts[order], 1), counts[order])
        num_devices = centroids.size
    if centroids.size < num_devices:
        # Fewer separable clouds than devices: keep k-means' own answer for the rest.
        fallback = KMeans(n_clusters=num_devices, n_init=3, random_state=seed).fit(points)
        return fallback.cluster_centers_[:, 0] + 1j * fallback.cluster_centers_[:, 1]
    centroids = centroids[np.argsort(-sizes)[:num_devices]]
    for _ in range(refinements):
        distance = np.abs(estimates[:, None] - centroids[None, :])
        nearest = np.argmin(distance, axis=1)
        inlier = distance[np.arange(estimates.size), nearest] <= trim_scales * scale
        for cluster in range(num_devices):
            members = estimates[inlier & (nearest == cluster)]
            if members.size:
                centroids[cluster] = members.mean()
    return centroids


def estimate_spread(estimates: np.ndarray, centroids: np.ndarray) -> float:
    """Robust standard deviation of the estimates around their nearest centroid.

    For a complex Gaussian error of variance ``s^2``, ``|e|^2`` is exponential
    with median ``s^2 ln 2``; the median ignores the outliers (collisions).

    Parameters
    ----------
    estimates : np.ndarray, shape ``(P,)``, complex
    centroids : np.ndarray, shape ``(K,)``, complex

    Returns
    -------
    float
        ``s``.
    """
    distance2 = np.min(np.abs(estimates[:, None] - centroids[None, :]) ** 2, axis=1)
    return float(np.sqrt(np.median(distance2) / np.log(2)))
