"""Shared test fixtures."""

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch work on one thread.

    CI has 2 shared cores; torch's default thread pool spins against the
    other jobs and makes small models many times slower.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer():
    """The committed text BPE tokenizer (loaded once per session)."""
    from tokencom_sdr.tokens.text_bpe import TextTokenizer

    return TextTokenizer.default()


def train_cli_or_skip(argv) -> int:
    """Run ``tokencom train ...`` (argv without ``tokencom``); skip the test
    when the corpus cannot be fetched on this machine."""
    from tokencom_sdr.cli.main import main
    from tokencom_sdr.data.corpus import CorpusUnavailableError

    try:
        return main(argv)
    except CorpusUnavailableError as error:
        pytest.skip(f"corpus not available offline: {error}")
