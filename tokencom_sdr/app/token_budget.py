"""The sender's side of a token budget: rank a frame's tokens, keep the top share.

``--budget alpha`` sends ``ceil(alpha * n)`` of a frame's ``n`` tokens
(:mod:`tokencom_sdr.link.budget`). With ``--budget-order importance`` the
sender ranks them with the receiver's own context model
(:mod:`tokencom_sdr.context.token_importance`): text by surprisal, images by
the codeword error the image context model would make, each with the tokens
already dropped hidden. ``--budget-order random`` keeps a random share, the
control. The receiver needs neither ``alpha`` nor the order: unsent
positions arrive as erasures and context recovery fills them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..link.budget import (BUDGET_ORDERS, IMAGE_RANKINGS, BudgetedAggregation, budget_positions,
                           budget_size, check_budget)
from ..tokens.frame import Modality, TokenFrame

__all__ = ["TokenBudget", "budget_aggregation", "bits_sent"]


@dataclass(frozen=True)
class TokenBudget:
    """A budget and how the sender ranks tokens for it.

    Attributes
    ----------
    alpha : float
        Share of tokens sent, ``(0, 1]``.
    order : str
        ``importance`` or ``random``.
    seed : int
        Seeds the ``random`` order.
    image_ranking : str
        How ``importance`` ranks image tokens, one of
        :data:`~tokencom_sdr.link.budget.IMAGE_RANKINGS`: ``checkerboard``
        (rounds of two context-model passes, one round down to alpha 0.6)
        or ``greedy`` (32 passes). Text is always ranked greedily.
    """

    alpha: float = 1.0
    order: str = "importance"
    seed: int = 0
    image_ranking: str = IMAGE_RANKINGS[0]

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_budget(self.alpha))
        if self.order not in BUDGET_ORDERS:
            raise ValueError(f"--budget-order must be one of {', '.join(BUDGET_ORDERS)}, "
                             f"got {self.order!r}")
        if self.image_ranking not in IMAGE_RANKINGS:
            raise ValueError(f"--budget-image-ranking must be one of {', '.join(IMAGE_RANKINGS)}, "
                             f"got {self.image_ranking!r}")

    def to_json(self) -> dict:
        return {"alpha": self.alpha, "order": self.order, "seed": self.seed,
                "image_ranking": self.image_ranking}


def budget_aggregation(frame: TokenFrame, budget: TokenBudget, tokens_per_packet: int, *,
                       text_context=None, image_context=None) -> BudgetedAggregation:
    """The packets' grouping of the tokens ``budget`` keeps of ``frame``.

    Parameters
    ----------
    frame : TokenFrame
        Text ``(n,)`` or image ``(rows, cols)``, nothing erased.
    budget : TokenBudget
    tokens_per_packet : int
    text_context : TextRecovery, optional
        Text with ``importance``: the receiver's model.
    image_context : ImageContextModel, optional
        Images with ``importance``: the receiver's model.

    Returns
    -------
    BudgetedAggregation
    """
    n = len(frame)
    keep = budget_size(n, budget.alpha)
    importance = None
    if budget.order == "importance" and keep < n:
        if frame.modality == Modality.TEXT:
            if text_context is None:
                raise ValueError("an importance budget for text needs the text context model")
            from ..context.token_importance import text_budget_importance  # torch: on use
            importance = text_budget_importance(text_context, frame.ids, keep)
        else:
            if image_context is None:
                raise ValueError("an importance budget for images needs the image context model")
            from ..context.token_importance import image_budget_importance  # torch: on use
            importance = image_budget_importance(image_context, frame.ids.reshape(frame.shape),
                                                 keep, budget.image_ranking)
    elif budget.order == "importance":
        importance = np.zeros(n)  # everything is sent; the order does not matter
    rng = np.random.default_rng([budget.seed, 18])
    kept = budget_positions(n, budget.alpha, budget.order, importance, rng)
    return BudgetedAggregation(kept, n, tokens_per_packet)


def bits_sent(frame: TokenFrame, aggregation=None) -> int:
    """Bits ``frame``'s tokens cost on the link: every token, or with a
    :class:`~tokencom_sdr.link.budget.BudgetedAggregation` the kept tokens
    and their positions (what a JPEG baseline is held to)."""
    if isinstance(aggregation, BudgetedAggregation):
        return aggregation.bits_sent(frame.bits_per_token)
    return len(frame) * frame.bits_per_token
