"""How badly the receiver would guess each token if it were left out (the sender's view).

The sender runs the same context model the receiver fills with, so it can
tell which tokens the receiver would restore and which it would not:

* **Text**: a token's importance is its surprisal, ``-log p(token | the
  others)``. Unequal protection (:mod:`tokencom_sdr.link.unequal_protection`)
  sends the tokens of highest surprisal in robust packets.
* **Images**: a token's importance is the squared codeword-space error of
  what the image context model would draw in its place, ``|E_p[c] - c_true|^2``
  with ``E_p[c]`` the model's expected codeword (what the soft decoder of
  :class:`~tokencom_sdr.context.image_recovery.ImageRecovery` draws). It is
  the model's predictability measured in the units PSNR counts, rather than
  in ``-log p``: two codes can be far apart in probability and close in pixels.

Each score is computed with batched masking: the positions are split into
interleaved groups, and one pass predicts a whole group with that group
hidden, so a message costs ``groups`` predictions, not one per token.

A token **budget** (:mod:`tokencom_sdr.link.budget`) leaves a share ``1 -
alpha`` of the tokens out, and a token that is easy to guess from all its
neighbours may not be when half of them are missing too. Two rankings
account for that; each ranks every position, so the top ``ceil(alpha * n)``
are the tokens to send:

* ``greedy`` (:func:`budget_importance`, text and images) drops tokens over a
  few rounds: each round scores the tokens still kept with the ones already
  dropped hidden, and drops the most predictable. For images that is 8
  rounds of 4 context-model passes.
* ``checkerboard`` (images, the default) costs two passes a round. Each
  pass hides one colour of a checkerboard, so every token is scored with its
  four neighbours visible; then the most predictable are dropped one at a
  time, and each drop multiplies its four neighbours' error by
  :data:`NEIGHBOUR_PENALTY`, since a neighbour is worse guessed once a token
  next to it is gone too. A round drops at most :data:`ROUND_SHARE` of the
  tokens still kept, so budgets down to 0.6 take one round, 0.5 two and
  0.25 three. On held-out photographs at 384 px it decodes 0.1 to 0.3 dB
  under ``greedy`` and 1.6 to 2.5 dB above a random choice, in a
  twentieth to a fortieth of the time (``bench/budget_ranking.py``).
"""

from __future__ import annotations

import heapq
import math
from typing import Callable, Optional

import numpy as np
import torch

from ..link.budget import IMAGE_RANKINGS
from .image_maskgit import ImageContextModel, grid_logits
from .text_recovery import TextRecovery

__all__ = ["IMAGE_RANKINGS", "NEIGHBOUR_PENALTY", "ROUND_SHARE",
           "text_token_surprisal", "image_token_error",
           "budget_importance", "penalised_drop_order", "text_budget_importance",
           "image_budget_importance"]

#: Factor on a kept token's predicted error when a four-neighbour of it is
#: dropped (``checkerboard`` ranking). With :data:`ROUND_SHARE`, chosen on
#: the 20 *train* photographs at 384 px (``bench/budget_ranking.py --part
#: calibrate``, ``docs/results/budget_ranking_calibration.json``): the best
#: mean PSNR over alpha 0.25 / 0.5 / 0.625 / 0.75 among the settings that
#: rank alpha 0.625 in one round (26.15 / 29.61 / 30.20 / 30.56 dB; penalty
#: 2: 0.01 dB less on average, 4: 0.06 dB less).
NEIGHBOUR_PENALTY = 3.0

#: Most of the kept tokens one round of the ``checkerboard`` ranking drops;
#: a budget that drops more takes further rounds, rescored with the dropped
#: tokens hidden (one round is two passes). With one round for any budget
#: alpha 0.25 lost 1.9 dB (24.24 dB): with three quarters gone, errors
#: scored with all four neighbours present no longer say much. A share of
#: 0.3 gained 0.02 dB more on average, at two rounds from alpha 0.7 down.
ROUND_SHARE = 0.4


def text_token_surprisal(recovery: TextRecovery, ids: np.ndarray, groups: int = 4,
                         hidden: Optional[np.ndarray] = None) -> np.ndarray:
    """Surprisal of every token of a text message under the context model.

    Parameters
    ----------
    recovery : TextRecovery
        The model (and memory) the receiver will fill with.
    ids : np.ndarray, shape ``(n,)``, int
        The message's token ids.
    groups : int
        Tokens are predicted in ``groups`` interleaved groups, one batched
        forward pass; a token's own group is hidden while it is predicted.
    hidden : np.ndarray, shape ``(n,)``, bool, optional
        Positions the receiver will not have (never shown to the model).

    Returns
    -------
    np.ndarray, shape ``(n,)``, float64
        ``-log p`` in nats; higher means the receiver would guess it worse.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        return np.zeros(0)
    visible = np.ones(ids.size, dtype=bool) if hidden is None else ~np.asarray(hidden, bool)
    targets = np.arange(ids.size)
    probs = recovery.token_prior(ids, visible, targets, groups=groups)
    return -np.log(np.maximum(probs[targets, ids].astype(np.float64), 1e-12))


def _lattice_groups(rows: int, cols: int, side: int) -> np.ndarray:
    """``(rows * cols,)`` group of each raster position: its phase in a
    ``side x side`` lattice, so every group is spread evenly over the grid."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return (r % side) * side + (c % side)


def _checkerboard_groups(rows: int, cols: int) -> np.ndarray:
    """``(rows * cols,)`` colour (0 or 1) of each raster position on a
    checkerboard: a colour's four-neighbours are all of the other colour."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return (r + c) % 2


@torch.no_grad()
def image_token_error(model: ImageContextModel, grid: np.ndarray,
                      hidden: Optional[np.ndarray] = None, side: int = 2,
                      pattern: str = "lattice", stride: Optional[int] = None) -> np.ndarray:
    """Codeword error the context model would make at each position of an image grid.

    Parameters
    ----------
    model : ImageContextModel
        The receiver's image context model.
    grid : np.ndarray, shape ``(R, C)``, int
        The image's token ids.
    hidden : np.ndarray, shape ``(R * C,)``, bool, optional
        Positions the receiver will not have (always masked).
    side : int
        ``lattice``: positions are predicted in ``side**2`` lattice groups
        (one :func:`~tokencom_sdr.context.image_maskgit.grid_logits` call
        each); a position's own group is masked while it is predicted.
    pattern : str
        ``lattice`` (every other token of a group is visible) or
        ``checkerboard``: two groups, the colours of a checkerboard, so a
        position is predicted from its four neighbours with its diagonal
        ones hidden.
    stride : int, optional
        Window step of the passes (default: the receiver's,
        ``window - window // 4``); ``window`` halves the cost.

    Returns
    -------
    np.ndarray, shape ``(R * C,)``, float64
        ``|E_p[c] - c_true|^2`` in the codebook's units; higher means the
        receiver would draw it worse. Hidden positions are scored too.
    """
    grid = np.asarray(grid, dtype=np.int64)
    rows, cols = grid.shape
    n = rows * cols
    hidden = np.zeros(n, bool) if hidden is None else np.asarray(hidden, bool).reshape(-1)
    if pattern == "lattice":
        groups, count = _lattice_groups(rows, cols, side), side * side
    elif pattern == "checkerboard":
        groups, count = _checkerboard_groups(rows, cols), 2
    else:
        raise ValueError(f"pattern must be 'lattice' or 'checkerboard', got {pattern!r}")
    device = next(model.parameters()).device
    codebook = model.codebook.to(device)
    truth = codebook[torch.as_tensor(grid.reshape(-1), device=device)]
    error = np.zeros(n)
    for g in range(count):
        target = groups == g
        masked = (hidden | target).reshape(rows, cols)
        ids = torch.as_tensor(np.where(masked, model.mask_id, grid), device=device)
        need = torch.as_tensor(target.reshape(rows, cols), device=device)
        logp = grid_logits(model, ids, need, stride=stride)
        flat = torch.as_tensor(np.flatnonzero(target), device=device)
        expected = logp.reshape(n, -1)[flat].exp() @ codebook
        error[target] = ((expected - truth[flat]) ** 2).sum(dim=1).double().cpu().numpy()
    return error


def penalised_drop_order(error: np.ndarray, shape, drop: int,
                         penalty: float = NEIGHBOUR_PENALTY,
                         gone: Optional[np.ndarray] = None) -> np.ndarray:
    """The ``drop`` positions to leave out, most predictable first, each drop
    raising its four neighbours' error.

    Parameters
    ----------
    error : np.ndarray, shape ``(R * C,)``, float
        Each position's predicted error with its four neighbours visible.
    shape : tuple ``(R, C)``
    drop : int
        How many more positions to leave out, at most those not ``gone``.
    penalty : float
        Factor ``>= 1`` on a kept position's error each time one of its four
        neighbours is dropped.
    gone : np.ndarray, shape ``(R * C,)``, bool, optional
        Positions dropped before (by an earlier round, whose absence
        ``error`` already reflects): never chosen, not counted in ``drop``,
        and, like new drops, raising their kept neighbours' error. Scored
        with them hidden or not, a token beside a hole is a riskier drop:
        without that raise the rounds lost 0.6 dB at alpha 0.25 on the
        held-out 256 x 256 crops.

    Returns
    -------
    np.ndarray, shape ``(drop,)``, int64
        New positions in the order they were dropped.
    """
    rows, cols = shape
    error = np.asarray(error, dtype=np.float64).reshape(-1)
    if error.size != rows * cols:
        raise ValueError(f"error has {error.size} entries for a {rows} x {cols} grid")
    dropped = np.zeros(error.size, dtype=bool) if gone is None else \
        np.asarray(gone, dtype=bool).reshape(-1).copy()
    if dropped.size != error.size:
        raise ValueError(f"gone has {dropped.size} entries for a {rows} x {cols} grid")
    if not 0 <= drop <= error.size - int(dropped.sum()):
        raise ValueError(f"drop must be 0..{error.size - int(dropped.sum())}, got {drop}")
    if penalty < 1:
        raise ValueError(f"penalty must be >= 1, got {penalty}")
    current = error.copy()
    if dropped.any():
        # Earlier rounds' drops raise their neighbours as this round's do.
        gone_grid = dropped.reshape(rows, cols).astype(np.int64)
        beside = np.zeros((rows, cols), dtype=np.int64)
        beside[1:] += gone_grid[:-1]
        beside[:-1] += gone_grid[1:]
        beside[:, 1:] += gone_grid[:, :-1]
        beside[:, :-1] += gone_grid[:, 1:]
        current *= penalty ** beside.reshape(-1)
    # A heap with lazy deletion: a raised entry is pushed again, and the
    # stale one is skipped when it surfaces.
    candidates = np.flatnonzero(~dropped)
    heap = list(zip(current[candidates].tolist(), candidates.tolist()))
    heapq.heapify(heap)
    order = []
    while len(order) < drop:
        value, i = heapq.heappop(heap)
        if dropped[i] or value != current[i]:
            continue
        dropped[i] = True
        order.append(i)
        r, c = divmod(i, cols)
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < rows and 0 <= cc < cols and not dropped[rr * cols + cc]:
                j = rr * cols + cc
                current[j] *= penalty
                heapq.heappush(heap, (current[j], j))
    return np.asarray(order, dtype=np.int64)


def budget_importance(score: Callable[[np.ndarray], np.ndarray], n_tokens: int, keep: int,
                      rounds: int = 4) -> np.ndarray:
    """Rank positions for a budget by dropping the most predictable, a few at a time.

    Parameters
    ----------
    score : callable
        ``score(hidden)`` with ``hidden`` a ``(n,)`` bool array of the
        positions already dropped returns ``(n,)`` float importance (higher:
        the receiver would restore it worse), computed with those hidden.
    n_tokens : int
    keep : int
        Positions the budget sends (``ceil(alpha * n)``,
        :func:`~tokencom_sdr.link.budget.budget_size`); the other ``n - keep``
        are dropped in ``rounds`` equal steps.
    rounds : int
        Scoring rounds, ``>= 1`` (one ``score`` call each, plus none when
        ``keep`` is everything).

    Returns
    -------
    np.ndarray, shape ``(n,)``, float64
        Higher is more important: dropped positions rank by when they were
        dropped (first = lowest), kept ones above all of them by their last
        score. Its top ``keep`` are the kept positions.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if not 0 <= keep <= n_tokens:
        raise ValueError(f"keep must be 0..{n_tokens}, got {keep}")
    to_drop = n_tokens - keep
    importance = np.zeros(n_tokens)
    if to_drop == 0:
        return importance
    dropped = np.zeros(n_tokens, dtype=bool)
    per_round = math.ceil(to_drop / rounds)
    rank = 0.0
    while True:
        scores = np.asarray(score(dropped), dtype=np.float64)
        kept = np.flatnonzero(~dropped)
        left = to_drop - int(dropped.sum())
        if left == 0:
            # Kept positions rank above every dropped one, among themselves by score.
            order = kept[np.argsort(scores[kept], kind="stable")]
            importance[order] = rank + 1 + np.arange(order.size)
            return importance
        order = kept[np.argsort(scores[kept], kind="stable")][:min(per_round, left)]
        importance[order] = rank + np.linspace(0.0, 0.5, order.size, endpoint=False)
        dropped[order] = True
        rank += 1.0


def text_budget_importance(recovery: TextRecovery, ids: np.ndarray, keep: int,
                           rounds: int = 4, groups: int = 4) -> np.ndarray:
    """Text importance for a budget of ``keep`` tokens: :func:`budget_importance` over surprisal.

    Parameters
    ----------
    ids : np.ndarray, shape ``(n,)``, int

    Returns
    -------
    np.ndarray, shape ``(n,)``, float64
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    return budget_importance(lambda hidden: text_token_surprisal(recovery, ids, groups, hidden),
                             ids.size, keep, rounds)


def image_budget_importance(model: ImageContextModel, grid: np.ndarray, keep: int,
                            ranking: str = IMAGE_RANKINGS[0], rounds: int = 8, side: int = 2,
                            penalty: float = NEIGHBOUR_PENALTY,
                            round_share: float = ROUND_SHARE) -> np.ndarray:
    """Image importance for a budget of ``keep`` tokens.

    Parameters
    ----------
    grid : np.ndarray, shape ``(R, C)``, int
    ranking : str
        ``checkerboard``: rounds of two context-model passes at window
        stride (:func:`image_token_error`, the tokens dropped so far
        hidden), each followed by :func:`penalised_drop_order` of at most
        ``round_share`` of the tokens still kept; or ``greedy``
        (:func:`budget_importance` over codeword error, ``rounds`` rounds of
        ``side**2`` passes).
    penalty, round_share : float
        ``checkerboard``: :data:`NEIGHBOUR_PENALTY` and :data:`ROUND_SHARE`.
    rounds : int
        ``greedy``: eight measured best on held-out 256 x 256 crops at
        ``alpha = 0.5``: +2.5 to +4.0 dB PSNR over a random choice, against
        +0.4 dB with one round and +1.4 to +1.8 dB with two.

    Returns
    -------
    np.ndarray, shape ``(R * C,)``, float64
        Higher is more important; its top ``keep`` are the kept positions.
    """
    grid = np.asarray(grid, dtype=np.int64)
    if ranking == "greedy":
        return budget_importance(lambda hidden: image_token_error(model, grid, hidden, side),
                                 grid.size, keep, rounds)
    if ranking != "checkerboard":
        raise ValueError(f"image ranking must be one of {', '.join(IMAGE_RANKINGS)}, "
                         f"got {ranking!r}")
    if not 0 <= keep <= grid.size:
        raise ValueError(f"keep must be 0..{grid.size}, got {keep}")
    if not 0 < round_share <= 1:
        raise ValueError(f"round_share must lie in (0, 1], got {round_share}")
    importance = np.zeros(grid.size)
    if keep == grid.size:
        return importance
    # The ranking tolerates the seams of non-overlapping windows (held-out
    # photographs, 384 px: 0.05 dB under the receiver's stride, at half the cost).
    gone = np.zeros(grid.size, dtype=bool)
    order = []
    while len(order) < grid.size - keep:
        error = image_token_error(model, grid, gone, pattern="checkerboard",
                                  stride=model.cfg.window)
        step = min(grid.size - keep - len(order),
                   math.ceil(round_share * (grid.size - len(order))))
        dropped = penalised_drop_order(error, grid.shape, step, penalty, gone)
        gone[dropped] = True
        order.extend(dropped.tolist())
    importance[order] = -1.0 - np.arange(len(order))[::-1]
    importance[~gone] = error[~gone]
    return importance
