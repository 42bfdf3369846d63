"""Token error rate: the share of a frame's positions that did not arrive right."""

import numpy as np

from ..tokens.frame import TokenFrame


def token_error_rate(sent: TokenFrame, received: TokenFrame) -> float:
    """Fraction of positions whose received token is erased or wrong.

    Parameters
    ----------
    sent, received : TokenFrame
        Frames of the same length (``received.erased`` counts as wrong).
    """
    if len(sent) == 0:
        return 0.0
    return float(np.mean(received.erased | (received.ids != sent.ids)))
