"""caption-eval's semantic score: a digit classifier on the recovered images (issue 18)."""

import numpy as np
import pytest

from tokencom_sdr.data.labelled_images import digit_images
from tokencom_sdr.experiments.caption_eval import (CAPTION_METHODS, digit_classifier,
                                                   evaluate_captions)


@pytest.fixture(scope="module")
def classify():
    return digit_classifier()


def test_the_classifier_knows_held_out_digits(classify):
    held_out = digit_images("heldout")[:150]
    right = np.mean([classify(item.image) == item.label for item in held_out])
    # 97.0 % on all 539; a classifier that guessed would get about 10 %.
    assert right > 0.93, right
    assert classify(np.zeros((32, 32, 3), np.uint8)) in range(10)


def test_the_semantic_score_sits_beside_psnr(classify, one_torch_thread):
    from tokencom_sdr.context.image_maskgit import ImageContextModel
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    images = digit_images("heldout")[:16]
    result = evaluate_captions(ImageContextModel.default_caption(),
                               ImageTokenizer.default("standard"), images, [0.0, 1.0],
                               classify=classify)
    rows = {(r["recovery"], r["loss"]): r for r in result["rows"]}
    clean = result["class_accuracy_tokens_only"]
    assert clean >= 14 / 16
    # No loss: every method draws the sent tokens, so the classifier agrees.
    assert all(rows[(m, 0.0)]["class_accuracy"] == clean for m in CAPTION_METHODS)
    # Everything lost: "none" draws the same flat patch for every image, so
    # it is right exactly for the digits of the one class that patch reads as.
    tokenizer = ImageTokenizer.default("standard")
    flat_class = classify(tokenizer.decode(np.full((8, 8), tokenizer.neutral_id), (32, 32)))
    assert rows[("none", 1.0)]["class_accuracy"] == \
        np.mean([item.label == flat_class for item in images])
    # The caption alone draws the digit it names; without it, a blur.
    gain = {g["loss"]: g for g in result["paired_gains"]}[1.0]
    assert gain["caption_accuracy_gain"] == pytest.approx(
        rows[("context+caption", 1.0)]["class_accuracy"] - rows[("context", 1.0)]["class_accuracy"])
    assert rows[("context+caption", 1.0)]["class_accuracy"] >= 0.75
    assert gain["caption_accuracy_gain"] >= 0.4, gain


def test_sequential_packets_lose_rows_from_the_same_draws(one_torch_thread):
    """``caption-eval --aggregation sequential``: the same packet-loss draws
    erase as many tokens as interleaved packets do, but in other places."""
    from tokencom_sdr.context.image_maskgit import ImageContextModel
    from tokencom_sdr.tokens.image_vq import ImageTokenizer

    model, tokenizer = ImageContextModel.default_caption(), ImageTokenizer.default("standard")
    images = digit_images("heldout")[:3]
    runs = {agg: evaluate_captions(model, tokenizer, images, [0.5], tokens_per_packet=8,
                                   aggregation=agg)
            for agg in ("interleaved", "sequential")}
    rows = {agg: {r["recovery"]: r for r in result["rows"]} for agg, result in runs.items()}
    assert rows["sequential"]["none"]["token_erasure_rate"] == \
        rows["interleaved"]["none"]["token_erasure_rate"] > 0
    assert rows["sequential"]["none"]["psnr_db"] != rows["interleaved"]["none"]["psnr_db"]
    with pytest.raises(ValueError, match="unknown aggregation"):
        evaluate_captions(model, tokenizer, images[:1], [0.5], aggregation="diagonal")
