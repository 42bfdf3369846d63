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
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

__all__ = ["cluster_channels", "estimate_spread", "estimate_scale"]


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


def cluster_channels(estimates: np.ndarray, num_devices: int, scale: float, seed: int = 0,
                     merge_scales: float = 2.5, trim_scales: float = 3.0,
                     refinements: int = 10) -> np.ndarray:
    """Centroids of the channel estimates, one per device.

    Parameters
    ----------
    estimates : np.ndarray, shape ``(P,)``, complex
        Every detected token's channel estimate, over all slots of a frame.
    num_devices : int
        K (at most ``P``).
    scale : float
        Expected standard deviation of one estimate around its device's
        gain (:func:`estimate_scale`).
    seed : int
        Seed of the k-means++ initialisation.
    merge_scales, trim_scales : float
        Merge and trimming radii in units of ``scale`` (module docstring).
    refinements : int
        Trimmed Lloyd iterations.

    Returns
    -------
    np.ndarray, shape ``(K,)``, dtype ``complex128``
        The centroids, in no particular order (a receiver does not know the
        devices' identities).
    """
    estimates = np.asarray(estimates, dtype=np.complex128).reshape(-1)
    if num_devices < 1 or estimates.size < num_devices:
        raise ValueError(f"cannot find {num_devices} devices in {estimates.size} estimates")
    points = np.column_stack([estimates.real, estimates.imag])
    over = min(3 * num_devices, estimates.size)
    kmeans = KMeans(n_clusters=over, n_init=3, random_state=seed).fit(points)
    centroids = kmeans.cluster_centers_[:, 0] + 1j * kmeans.cluster_centers_[:, 1]
    sizes = np.bincount(kmeans.labels_, minlength=over).astype(float)
    centroids, sizes = _merge_close(centroids, sizes, merge_scales * scale)
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
