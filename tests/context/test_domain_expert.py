"""The corpus expert: routing by received tokens, its recovery, its file and its trainer."""

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tokencom_sdr.context.checkpoint_file import ContextModelFileError, write_checkpoint
from tokencom_sdr.context.domain_expert import (DomainExpert, DomainRouter, build_domain_router,
                                                default_domain_expert, default_domain_expert_path,
                                                expert_from_option, load_domain_expert,
                                                _FORMAT_TAG, _FORMAT_VERSION)
from tokencom_sdr.context.text_memory import CorpusMemory, default_corpus_memory
from tokencom_sdr.context.text_recovery import TextRecovery
from tokencom_sdr.data.heldout_messages import heldout_messages
from tokencom_sdr.experiments.text_erasure_eval import run_erasure_eval
from tokencom_sdr.tokens.frame import Modality, TokenFrame

from conftest import train_cli_or_skip

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Modern English of the kind users send, written for this test (no training source has it).
MODERN = [
    "The firmware update failed because the SD card was mounted read-only. Remount it, "
    "check the free space with df -h, and run the installer again before rebooting the board.",
    "Our field team measured the signal strength at twelve sites along the highway; the "
    "weakest readings came from the tunnel entrance, where the base station is shadowed.",
    "To configure the network, edit the YAML file in /etc/netplan, set the interface to use "
    "DHCP, and apply the change with sudo netplan apply.",
]

# Everyday prose scores slightly on the corpus side of the unigram router
# (its modern side learned documentation); the margin keeps it general.
EVERYDAY = [
    "I went to the store yesterday and bought some milk, eggs and bread for the week.",
    "The children played in the garden while their parents cooked dinner and talked about work.",
]


def _erase(frame: TokenFrame, rate: float, seed: int) -> TokenFrame:
    rng = np.random.default_rng(seed)
    erased = rng.random(len(frame)) < rate
    return TokenFrame(np.where(erased, 0, frame.ids), frame.modality, frame.shape,
                      frame.bits_per_token, erased)


@pytest.mark.timeout(30)
def test_router_sends_a_message_where_its_unigrams_are_likely():
    corpus = np.repeat([0, 1, 2], [50, 30, 20])
    modern = np.repeat([2, 3, 4], [20, 40, 40])
    router = build_domain_router([corpus, modern], ("corpus", "modern"), vocab_size=6)
    assert router.log_probs.shape == (2, 6) and router.log_probs.dtype == np.float32
    assert np.allclose(np.exp(router.log_probs).sum(axis=1), 1.0, atol=1e-5)
    assert router.route(np.array([0, 1, 0, 2])) == "corpus"
    assert router.route(np.array([3, 4, 2, 3])) == "modern"
    assert router.route(np.array([], dtype=np.int64)) is None
    # Ids outside the vocabulary (a frame's unused codes) are no evidence.
    assert router.route(np.array([9, 17])) is None
    assert router.route(np.array([0, 99])) == "corpus"
    # The lead is in nats per received token: length alone does not decide.
    assert router.lead(np.array([0, 1, 0, 2]), "corpus") == pytest.approx(
        router.lead(np.array([0, 1, 0, 2] * 5), "corpus"))
    assert router.lead(np.array([3, 4]), "corpus") < 0 < router.lead(np.array([0]), "corpus")
    assert router.lead(np.array([], dtype=np.int64), "corpus") == float("-inf")
    with pytest.raises(ValueError, match="two or more domains"):
        DomainRouter(("corpus",), router.log_probs[:1])
    with pytest.raises(ValueError, match="empty"):
        build_domain_router([corpus, np.zeros(0, np.int64)], ("corpus", "modern"), 6)


@pytest.mark.timeout(120)
def test_committed_expert_takes_old_english_and_leaves_modern_text(text_recovery, tokenizer):
    assert text_recovery.expert is default_domain_expert()
    assert text_recovery.expert.domain == "corpus"
    assert text_recovery.expert.margin == 0.3
    assert text_recovery.expert.router.route(tokenizer.encode(EVERYDAY[0])) == "corpus"
    domains = []
    for seed, message in enumerate(heldout_messages(20, seed=11)):
        frame = tokenizer.encode_frame(message)
        received = _erase(frame, 0.3, seed)
        result = text_recovery.recover(received, mode="fill")
        domains.append(result.domain)
        assert np.array_equal(result.frame.ids[~received.erased], frame.ids[~received.erased])
        assert not result.frame.erased.any()
    assert domains.count("corpus") >= 15, domains
    for seed, message in enumerate(MODERN + EVERYDAY):
        received = _erase(tokenizer.encode_frame(message), 0.3, seed)
        assert text_recovery.recover(received, mode="fill").domain == "general"
    # The model-free modes never consult a model.
    assert text_recovery.recover(received, mode="none").domain == "general"


@pytest.mark.timeout(120)
def test_a_routed_message_is_recovered_by_the_expert_with_its_memory_part(text_recovery,
                                                                         tokenizer):
    expert = text_recovery.expert
    own = TextRecovery(expert.model, memory=expert.memory_from(default_corpus_memory()),
                       expert=None)
    general = TextRecovery(expert=None)
    assert own.memory.min_context == expert.min_context == 4
    assert len(own.memory) == expert.memory_tokens < len(default_corpus_memory())
    message = heldout_messages(1, seed=12)[0]
    received = _erase(tokenizer.encode_frame(message), 0.4, 1)
    routed = text_recovery.recover(received, mode="fill")
    assert routed.domain == "corpus"
    assert np.array_equal(routed.frame.ids, own.recover(received, mode="fill").frame.ids)
    assert general.recover(received, mode="fill").domain == "general"
    # What re-decoding asks for its prior: the same model as the recovery.
    serving = text_recovery.routed(received)
    assert serving.model is expert.model and serving.expert is None
    modern = _erase(tokenizer.encode_frame(MODERN[0]), 0.4, 1)
    general_view = text_recovery.routed(modern)
    assert general_view.model is text_recovery.model and general_view.expert is None
    assert general_view.memory is text_recovery.memory
    assert general.routed(received) is general
    # A model of your own gets no expert unless asked for.
    assert TextRecovery(expert.model).expert is None
    assert TextRecovery(expert.model, expert="default").expert is expert


@pytest.mark.timeout(240)
def test_expert_restores_more_of_held_out_corpus_text():
    """100 held-out corpus messages, 30 % interleaved packet loss: measured
    45.2 % with the expert against 41.9 % without (seed 3)."""
    messages = heldout_messages(100, seed=3)
    with_expert = run_erasure_eval(messages, TextRecovery(), loss_probability=0.3, seed=3)
    without = run_erasure_eval(messages, TextRecovery(expert=None), loss_probability=0.3, seed=3)
    assert with_expert["recovered_by"].get("corpus", 0) >= 75
    assert without["recovered_by"] == {"general": 100}
    assert with_expert["fill_restored_rate"] >= without["fill_restored_rate"] + 0.015


@pytest.mark.timeout(60)
def test_bad_expert_files_and_options_are_refused(tmp_path):
    committed = default_domain_expert_path().read_bytes()
    with pytest.raises(ContextModelFileError, match="not found"):
        load_domain_expert(tmp_path / "missing.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(committed[:len(committed) // 2])
    with pytest.raises(ContextModelFileError, match="corrupt or truncated"):
        load_domain_expert(truncated)
    # A good expert file whose model file is not beside it.
    lonely = tmp_path / "lonely.safetensors"
    lonely.write_bytes(committed)
    with pytest.raises(ContextModelFileError, match="text_context_corpus.safetensors"):
        load_domain_expert(lonely)
    foreign = tmp_path / "foreign.safetensors"
    write_checkpoint({"unigram_log_prob": torch.zeros(2, 8)}, foreign,
                     format_tag="tokencom-text-memory", format_version="1")
    with pytest.raises(ContextModelFileError, match="not a TokenCom text domain expert"):
        load_domain_expert(foreign)
    flat = tmp_path / "flat.safetensors"
    write_checkpoint({"unigram_log_prob": torch.zeros(8)}, flat, format_tag=_FORMAT_TAG,
                     format_version=_FORMAT_VERSION)
    with pytest.raises(ContextModelFileError, match="one 2-D float32 tensor 'unigram_log_prob'"):
        load_domain_expert(flat)
    with pytest.raises(ValueError, match="expert must be"):
        TextRecovery(expert="corpus")
    # A memory of your own: no expert unless asked for, and then refused.
    mine = CorpusMemory(np.arange(4096), 4096)
    assert TextRecovery(memory=mine).expert is None
    with pytest.raises(ValueError, match="starts with its"):
        TextRecovery(memory=mine, expert="default")
    with pytest.raises(ValueError, match="not one of the router's"):
        expert = default_domain_expert()
        DomainExpert(expert.router, "medieval", expert.model, 1, "0", 4, 4.0)
    assert expert_from_option("none") is None and expert_from_option("auto") == "auto"


@pytest.mark.timeout(120)
def test_trainer_rebuilds_the_committed_expert(tmp_path):
    committed = default_domain_expert()
    model = tmp_path / "text_context_corpus.safetensors"
    shutil.copyfile(str(default_domain_expert_path().parent / "text_context_corpus.safetensors"),
                    model)
    out = tmp_path / "expert.safetensors"
    assert train_cli_or_skip(["train", "domain-expert", "--model", str(model),
                              "--out", str(out)]) == 0
    rebuilt = load_domain_expert(out)
    assert rebuilt.router.domains == committed.router.domains == ("corpus", "modern")
    assert np.array_equal(rebuilt.router.log_probs, committed.router.log_probs)
    assert (rebuilt.memory_tokens, rebuilt.memory_digest, rebuilt.min_context, rebuilt.kappa,
            rebuilt.margin) == (committed.memory_tokens, committed.memory_digest,
                                committed.min_context, committed.kappa, committed.margin)
    assert set(load_file(str(out))) == {"unigram_log_prob"}
    elsewhere = tmp_path / "other" / "expert.safetensors"
    assert train_cli_or_skip(["train", "domain-expert", "--model", str(model),
                              "--out", str(elsewhere)]) == 2
    assert not elsewhere.exists()
