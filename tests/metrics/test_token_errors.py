"""Token error rate: erased positions and wrong ids count, right ones do not."""

import numpy as np
import pytest

from tokencom_sdr.metrics.token_errors import token_error_rate
from tokencom_sdr.tokens.frame import Modality, TokenFrame


def text_frame(ids, erased=None):
    return TokenFrame(np.asarray(ids), Modality.TEXT, (len(ids),), 12, erased=erased)


def test_identical_frames_have_no_errors():
    sent = text_frame([5, 9, 4095, 0])
    assert token_error_rate(sent, text_frame([5, 9, 4095, 0])) == 0.0


def test_wrong_ids_and_erasures_are_counted_once_each():
    sent = text_frame([1, 2, 3, 4, 5, 6, 7, 8])
    # Position 1 wrong, position 4 erased (its id happens to be right: an
    # erased token is unknown to the receiver whatever value it holds),
    # position 6 erased and wrong: 3 of 8.
    received = text_frame([1, 7, 3, 4, 5, 6, 0, 8],
                          erased=[False, False, False, False, True, False, True, False])
    assert token_error_rate(sent, received) == pytest.approx(3 / 8)


def test_every_position_erased_is_rate_one():
    sent = text_frame([3, 1, 4])
    received = text_frame([3, 1, 4], erased=[True, True, True])
    assert token_error_rate(sent, received) == 1.0
    assert token_error_rate(sent, text_frame([0, 0, 0])) == 1.0


def test_empty_frames_have_rate_zero_and_the_result_is_a_float():
    empty = TokenFrame(np.zeros(0, dtype=np.int64), Modality.TEXT, (0,), 12)
    rate = token_error_rate(empty, empty)
    assert rate == 0.0 and type(rate) is float
    rate = token_error_rate(text_frame([1, 2]), text_frame([1, 3]))
    assert rate == 0.5 and type(rate) is float
