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


@pytest.fixture(scope="module")
def text_recovery(one_torch_thread):
    """Text recovery with the committed text context model."""
    from tokencom_sdr.context.text_recovery import TextRecovery

    return TextRecovery()


@pytest.fixture(scope="module")
def prior(one_torch_thread):
    """The compression tests' token prior (sender's and receiver's): the
    committed text context model."""
    from tokencom_sdr.compression.context_prior import ContextPrior

    return ContextPrior()


#: Codebook size of the tiny image models (tests that build frames for them use it too).
TINY_IMAGE_CODEBOOK = 64


@pytest.fixture(scope="module")
def tiny_image_models():
    """An untrained VQ tokenizer (f=4, 64 codes) and a one-layer context model
    over its codebook, seeded: fast stand-ins for the committed image models."""
    import torch

    from tokencom_sdr.context.image_maskgit import ContextConfig, ImageContextModel
    from tokencom_sdr.tokens.image_vq import VQVAE, ImageTokenizer, VQConfig

    torch.manual_seed(0)
    tokenizer = ImageTokenizer(VQVAE(VQConfig(downsample=4, codebook_size=TINY_IMAGE_CODEBOOK,
                                              latent_dim=8, channels=(8, 16), res_blocks=1)), "tiny")
    context = ImageContextModel(ContextConfig(codebook_size=TINY_IMAGE_CODEBOOK, code_dim=8, window=8,
                                              d_model=32, layers=1, heads=2, mlp_ratio=2.0),
                                tokenizer.model.quantizer.codebook).eval()
    return tokenizer, context


def train_cli_or_skip(argv) -> int:
    """Run ``tokencom train ...`` (argv without ``tokencom``); skip the test
    when the corpus cannot be fetched on this machine."""
    from tokencom_sdr.cli.main import main
    from tokencom_sdr.data.corpus import CorpusUnavailableError

    try:
        return main(argv)
    except CorpusUnavailableError as error:
        pytest.skip(f"corpus not available offline: {error}")
