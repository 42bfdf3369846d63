"""How many cases each fuzz test runs: a few hundred in CI, as many as
``TOKENCOM_FUZZ_EXAMPLES`` says when set (e.g. 100000 for the once-per-issue
run); the timeout grows with the count, times ``TOKENCOM_FUZZ_TIMEOUT_FACTOR``
(default 3; the long run on a shared machine needs more)."""

import os

import pytest
from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES_VARIABLE = "TOKENCOM_FUZZ_EXAMPLES"
TIMEOUT_FACTOR_VARIABLE = "TOKENCOM_FUZZ_TIMEOUT_FACTOR"


def fuzz_examples(ci_examples: int) -> int:
    """The environment's case count, else ``ci_examples``."""
    value = os.environ.get(FUZZ_EXAMPLES_VARIABLE, "").strip()
    return int(value) if value else ci_examples


def fuzz(ci_examples: int, ms_per_example: float = 20.0):
    """Decorator, above ``@given``: hypothesis settings for a fuzz test and a
    pytest timeout sized for its case count (``ms_per_example`` each, times
    the timeout factor)."""
    examples = fuzz_examples(ci_examples)
    factor = float(os.environ.get(TIMEOUT_FACTOR_VARIABLE, "").strip() or 3)
    timeout = max(60, int(examples * ms_per_example / 1000 * factor))

    def decorate(test):
        test = settings(max_examples=examples, deadline=None, database=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                               HealthCheck.filter_too_much])(test)
        return pytest.mark.timeout(timeout)(test)
    return decorate
