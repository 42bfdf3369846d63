"""Averaging text context checkpoints fine-tuned from one model.

Two continuations of one model on different text (the corpus alone, say, and
the corpus plus modern English) sit close enough in weight space that their
average works as a model: it keeps most of what each learned, trading the
two held-out sources more evenly than either run alone ("model soup").
``tokencom train text-context-average A B --out C`` writes it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from ..context.text_model import (TextContextModel, load_text_context_model,
                                  save_text_context_model)

__all__ = ["average_text_context_models", "run_from_args"]


def average_text_context_models(models: Sequence[TextContextModel],
                                weights: Optional[Sequence[float]] = None) -> TextContextModel:
    """The weighted mean of the models' parameters, as a new model.

    Parameters
    ----------
    models : sequence of TextContextModel
        At least two, all with the same config.
    weights : sequence of float, optional
        One non-negative weight per model (normalised to sum 1); equal by default.

    Returns
    -------
    TextContextModel
        Float32, in eval mode, with ``metadata["step"]`` the most steps of any input.
    """
    if len(models) < 2:
        raise ValueError(f"averaging needs at least two checkpoints, got {len(models)}")
    weights = [1.0] * len(models) if weights is None else [float(w) for w in weights]
    if len(weights) != len(models):
        raise ValueError(f"{len(weights)} weights for {len(models)} checkpoints")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"weights must be non-negative and not all zero, got {weights}")
    config = models[0].config
    for i, model in enumerate(models[1:], start=2):
        if model.config != config:
            raise ValueError(f"checkpoint {i} has config {model.config}, checkpoint 1 has "
                             f"{config}: only continuations of one model can be averaged")
    total = sum(weights)
    states = [m.state_dict() for m in models]
    mean = {name: sum(w / total * s[name].float() for w, s in zip(weights, states))
            for name in states[0]}
    out = TextContextModel(config)
    out.load_state_dict(mean)
    out.metadata = {"step": str(max(int(getattr(m, "metadata", {}).get("step", 0))
                                    for m in models))}
    return out.eval()


def run_from_args(args) -> int:
    models = [load_text_context_model(path) for path in args.checkpoints]
    averaged = average_text_context_models(models, args.weights)
    sources = ", ".join(f"{w:g} x {Path(p).name}" for w, p in
                        zip(args.weights or [1.0] * len(models), args.checkpoints))
    averaged.metadata["averaged_from"] = sources
    save_text_context_model(averaged, args.out, averaged.metadata, half=args.half)
    print(f"wrote {args.out}: mean of {sources}", file=sys.stderr)
    return 0
