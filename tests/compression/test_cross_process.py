"""Sender and receiver in different processes: the skip decisions and the
range coder's probabilities are reproduced by a fresh process that loads the
committed model itself (same machine, one torch thread each)."""

import subprocess
import sys

import numpy as np
import pytest

from tokencom_sdr.compression.context_prior import ContextPrior
from tokencom_sdr.compression.entropy_coding import decode_entropy
from tokencom_sdr.compression.skipping import decode_skipping

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SENDER = """
import sys
import numpy as np
from tokencom_sdr.compression.context_prior import ContextPrior
from tokencom_sdr.compression.entropy_coding import encode_entropy
from tokencom_sdr.compression.skipping import encode_skipping
from tokencom_sdr.tokens.text_bpe import TextTokenizer
ids = np.asarray(TextTokenizer.default().encode(sys.argv[1]), dtype=np.int64)
prior = ContextPrior()
print(encode_skipping(ids, prior, 0.0).data.hex())
print(encode_entropy(ids, prior).data.hex())
"""

TEXT = ("The package manager keeps a list of installed packages and the files "
        "each one owns, so that removing a package removes its files too.")


@pytest.mark.timeout(180)
def test_a_fresh_sender_process_is_decoded_exactly(tokenizer):
    done = subprocess.run([sys.executable, "-c", SENDER, TEXT], capture_output=True, text=True,
                          timeout=170, check=True)
    skip_hex, entropy_hex = done.stdout.split()
    ids = np.asarray(tokenizer.encode(TEXT), dtype=np.int64)
    prior = ContextPrior()
    result = decode_skipping(bytes.fromhex(skip_hex), prior)
    assert result.fill_correct and result.skipped.sum() > 0
    np.testing.assert_array_equal(result.ids, ids)
    np.testing.assert_array_equal(decode_entropy(bytes.fromhex(entropy_hex), prior), ids)
    assert tokenizer.decode(result.ids.tolist()) == TEXT
