"""Semantic packet aggregation: the ATS objective, the searches, and their packets on the wire."""

import itertools
import json
import math

import numpy as np
import pytest

from tokencom_sdr.link import depacketize, packetize
from tokencom_sdr.link.aggregation import FixedGrouping
from tokencom_sdr.link.semantic_aggregation import (AverageTokenSimilarity, SemanticAggregation,
                                                    SubsetSimilarity, exhaustive_grouping,
                                                    gbeam_grouping, groups_of,
                                                    interleaved_assignment, lookahead_grouping)
from tokencom_sdr.tokens.frame import TokenFrame


def _synthetic_phi(n: int, seed: int):
    """A cheap phi with the shape of a sentence encoder's: content tokens
    weigh more, neighbours kept together add meaning, and it saturates."""
    weights = np.random.default_rng(seed).gamma(0.6, size=n) + 0.05

    def phi(masks):
        masks = np.asarray(masks, dtype=float)
        coverage = masks @ weights / weights.sum()
        pairs = (masks[:, 1:] * masks[:, :-1]).sum(axis=1) / (n - 1)
        return np.sqrt(coverage) * 0.8 + 0.2 * pairs

    return phi


def _brute_force_ats(phi, assignment, n_packets, loss):
    total = 0.0
    for survivors in itertools.product((False, True), repeat=n_packets):
        kept = np.array(survivors)[assignment]
        value = 1.0 if kept.all() else 0.0 if not kept.any() else float(phi(kept[None])[0])
        total += (1 - loss) ** sum(survivors) * loss ** (n_packets - sum(survivors)) * value
    return total


@pytest.mark.timeout(30)
def test_exact_ats_is_the_published_sum_over_survivor_sets():
    n, packets, loss = 12, 4, 0.3
    phi = _synthetic_phi(n, 0)
    objective = AverageTokenSimilarity(SubsetSimilarity(phi, n), packets, loss)
    rng = np.random.default_rng(1)
    for _ in range(5):
        assignment = rng.permutation(interleaved_assignment(n, packets))
        assert objective(assignment[None])[0] == pytest.approx(
            _brute_force_ats(phi, assignment, packets, loss), abs=1e-12)


@pytest.mark.timeout(30)
def test_monte_carlo_ats_brackets_the_exact_value():
    n, packets, loss = 18, 6, 0.3
    phi = _synthetic_phi(n, 2)
    exact = AverageTokenSimilarity(SubsetSimilarity(phi, n), packets, loss)
    sampled = AverageTokenSimilarity(SubsetSimilarity(phi, n), packets, loss,
                                     exact_max_packets=0, samples=4000, seed=3)
    assignment = interleaved_assignment(n, packets)
    mean, half_width = sampled.with_interval(assignment)
    assert 0 < half_width < 0.02
    assert abs(mean - exact(assignment[None])[0]) < half_width


@pytest.mark.timeout(30)
def test_exhaustive_enumerates_every_grouping_once():
    n, packets = 12, 4
    objective = AverageTokenSimilarity(SubsetSimilarity(_synthetic_phi(n, 4), n), packets, 0.3)
    result = exhaustive_grouping(objective, n)
    # 12! / (3!^4 4!) unordered groupings into four packets of three.
    assert result.evaluations == math.factorial(12) // (6 ** 4 * 24) == 15400
    # Nothing scores higher than what it returns, checked on random groupings.
    rng = np.random.default_rng(5)
    others = np.array([rng.permutation(interleaved_assignment(n, packets)) for _ in range(300)])
    assert objective(others).max() <= result.ats + 1e-12
    with pytest.raises(ValueError, match="equal packets"):
        exhaustive_grouping(objective, 13)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gbeam_and_lookahead_come_close_to_exhaustive_for_far_fewer_calls(seed):
    n, packets, loss = 12, 4, 0.3
    phi = _synthetic_phi(n, 10 + seed)
    results = {}
    for name, search in (("exhaustive", exhaustive_grouping),
                         ("gbeam", lambda o, k: gbeam_grouping(o, k, seed=seed)),
                         ("look", lookahead_grouping)):
        objective = AverageTokenSimilarity(SubsetSimilarity(phi, n), packets, loss)
        found = search(objective, n)
        results[name] = (found.ats, objective.phi.requests)
    best, exhaustive_calls = results["exhaustive"]
    assert results["gbeam"][0] >= 0.99 * best
    assert results["gbeam"][1] * 20 <= exhaustive_calls
    assert results["look"][0] >= 0.98 * best
    assert results["look"][1] * 40 <= exhaustive_calls
    interleaved = AverageTokenSimilarity(SubsetSimilarity(phi, n), packets, loss)(
        interleaved_assignment(n, packets)[None])[0]
    assert results["gbeam"][0] >= interleaved


@pytest.mark.timeout(30)
def test_semantic_grouping_reaches_the_receiver_through_explicit_positions():
    n = 40
    ids = np.random.default_rng(6).integers(1, 4096, n)
    frame = TokenFrame(ids, 0, (n,), 12)
    aggregation = SemanticAggregation("sempa-gbeam", 8, lambda f: _synthetic_phi(len(f), 7),
                                      samples=16, options={"generations": 3})
    grouping = aggregation.for_frame(frame)
    assert isinstance(grouping, FixedGrouping) and len(grouping.groups) == 5
    assert aggregation.last_search["g_calls"] > 0
    packets = packetize(frame, 9, aggregation)
    # Another search of the same frame returns the same grouping (seeded), and
    # the receiver, knowing nothing of it, rebuilds the frame from the headers.
    assert packetize(frame, 9, grouping) == packets
    whole = depacketize(packets, 9).frame
    np.testing.assert_array_equal(whole.ids, ids)
    lost = 2
    partial = depacketize(packets[:lost] + packets[lost + 1:], 9).frame
    np.testing.assert_array_equal(np.flatnonzero(partial.erased), grouping.groups[lost])
    with pytest.raises(TypeError, match="for_frame"):
        aggregation.assign(n)


@pytest.mark.timeout(10)
def test_fixed_grouping_rejects_what_is_not_a_partition():
    with pytest.raises(ValueError, match="exactly once"):
        FixedGrouping([[0, 1], [1, 2]], 2)
    assert FixedGrouping([[0], [1], [2], [3]], 2).num_packets(4) == 4
    with pytest.raises(ValueError, match="chosen for 4 tokens"):
        FixedGrouping([[0], [1], [2], [3]], 2).assign(5)
    with pytest.raises(ValueError, match="1..2"):
        FixedGrouping([[0, 1, 2], [3]], 2)
    assert [g.tolist() for g in groups_of(np.array([1, 0, 1, 0]), 2)] == [[1, 3], [0, 2]]


@pytest.mark.timeout(300)
def test_aggregation_eval_cli_with_the_real_encoder_and_context_model(tmp_path, capsys):
    from tokencom_sdr.cli.main import main

    out = tmp_path / "agg.json"
    assert main(["aggregation-eval", "--methods", "interleaved,sempa-gbeam,sempa-look,exhaustive",
                 "--tokens", "6", "--tokens-per-packet", "2", "--messages", "2", "--draws", "2",
                 "--json", str(out), "--plot", str(tmp_path / "agg.png")]) == 0
    result = json.loads(out.read_text())
    rows = {row["method"]: row for row in result["rows"]}
    assert result["tokens_per_message"] == 6 and result["messages"] == 2
    # Three packets: the ATS is exact, so the searches can only match or beat
    # interleaving (it is in GBeam's first beam), and nothing beats exhaustive.
    assert rows["sempa-gbeam"]["ats"] >= rows["interleaved"]["ats"] - 1e-9
    for name in ("interleaved", "sempa-gbeam", "sempa-look"):
        assert rows[name]["ats"] <= rows["exhaustive"]["ats"] + 1e-9
        assert 0 <= rows[name]["semantic_similarity"] <= 1.0 + 1e-6
        assert 0 <= rows[name]["token_error_rate"] <= 1
    # 6! / (2!^3 3!) = 15 groupings, 6 nontrivial survivor sets each.
    assert rows["exhaustive"]["g_calls"] == 15 * 6
    assert rows["interleaved"]["g_calls"] == 0
    assert (tmp_path / "agg.png").stat().st_size > 5000
    assert "sempa-look" in capsys.readouterr().out


@pytest.mark.timeout(120)
def test_filled_phi_scores_what_the_receiver_shows():
    import torch

    from tokencom_sdr.context.text_model import load_text_context_model
    from tokencom_sdr.metrics.subset_similarity import text_subset_similarity
    from tokencom_sdr.tokens.text_bpe import TextTokenizer

    tokenizer = TextTokenizer.default()
    model = load_text_context_model()
    ids = tokenizer.encode("And God said, Let there be light: and there was light.")
    n = len(ids)
    # Positions the model restores exactly when only they are missing.
    singles = ~np.eye(n, dtype=bool)
    with torch.inference_mode():
        logits = model(torch.as_tensor(np.where(singles, ids, model.config.mask_id)))
    guessed = logits.argmax(-1).numpy()[np.arange(n), np.arange(n)] == ids
    assert guessed.any() and not guessed.all()
    plain = text_subset_similarity(ids, tokenizer)
    filled = text_subset_similarity(ids, tokenizer, fill_model=model)
    restorable = singles[np.flatnonzero(guessed)[0]]
    # A token the model restores leaves the receiver's text whole; without the
    # fill the same loss shows, and a token it misses shows either way (some
    # misses only change case or punctuation, which MiniLM does not see: the
    # worst of them must show).
    assert filled(restorable[None])[0] == pytest.approx(1.0, abs=1e-5)
    assert plain(restorable[None])[0] < 1.0 - 1e-4
    assert filled(singles[~guessed]).min() < 1.0 - 1e-3
