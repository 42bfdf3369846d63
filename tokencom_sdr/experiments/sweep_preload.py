"""What a sweep's local workers load once, before they exist.

A local cluster's workers are started by one *fork server*
(``multiprocessing``'s ``forkserver`` method): a clean process that the
driver starts and that imports this module first. When the driver has set
``TOKENCOM_SWEEP_PRELOAD`` (to a :func:`preload_plan`), the import loads
what the plan names: torch, the tokenizers, the context models, the
messages and images, the compiled LDPC decoder. Every worker forked from
the server, the first ones and those a restart brings, starts with all of
it. Spawned workers would each load it again, at the same time on the same
two cores, and keep one copy each; forked ones share the server's pages
(the models are only read), so two workers read one copy of the corpus
memory and the weights through the shared cache.

Loading at import time is how ``multiprocessing.set_forkserver_preload``
works: it imports modules by name. Without the variable the import does
nothing, and a failure here is only a warning (the workers then load what
they need at their first point, and any error is raised there).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from typing import Dict, Sequence

from .sweep_config import SweepConfig, SweepPoint

__all__ = ["PRELOAD_VARIABLE", "preload_plan", "load_plan"]

#: The environment variable that carries the plan to the fork server.
PRELOAD_VARIABLE = "TOKENCOM_SWEEP_PRELOAD"


def preload_plan(points: Sequence[SweepPoint], config: SweepConfig) -> Dict[str, object]:
    """What ``points`` will load, as a JSON-able dict (see :func:`load_plan`)."""
    text = [p for p in points if p.modality == "text"]
    images = [p for p in points if p.modality != "text"]
    return {
        "messages": [config.text_messages, config.text_message_seed] if text else None,
        "text_context": any(p.recovery in ("fill", "soft") for p in text),
        "images": sorted({p.source for p in images}),
        "image_max_side": config.image_max_side,
        "image_tokenizers": sorted({p.tokenizer for p in images}),
        "image_context": sorted({p.tokenizer for p in images if p.recovery == "context"}),
    }


def load_plan(plan: Dict[str, object]) -> None:
    """Load what ``plan`` names into this process's caches (those
    :mod:`.sweep_point` reads). Torch is set to one thread first, as every
    point does: a process that forks must have no OpenMP thread pool. The
    corpus memory (sorting 5 M positions, in numpy without the GIL) is
    built on a second thread meanwhile; it has ended when this returns."""
    import torch

    from ..context.text_memory import default_corpus_memory
    from ..phy.min_sum import compile_decoder
    from . import sweep_point

    torch.set_num_threads(1)
    memory = threading.Thread(target=default_corpus_memory, name="preload corpus memory")
    if plan["text_context"]:
        memory.start()
    try:
        compile_decoder()
        if plan["messages"] is not None:
            sweep_point._text_tokenizer()
            sweep_point._heldout_messages(*plan["messages"])
        for source in plan["images"]:
            sweep_point._image(source, plan["image_max_side"])
        for name in plan["image_tokenizers"]:
            sweep_point._image_tokenizer(name)
        if plan["image_context"]:
            from ..context.image_recovery import default_context_model

            for name in plan["image_context"]:
                default_context_model(name)
    finally:
        if plan["text_context"]:
            memory.join()
    if plan["text_context"]:
        sweep_point._text_recovery()  # (raises here if the memory failed to load)


def _load_from_environment() -> None:
    encoded = os.environ.get(PRELOAD_VARIABLE)
    if not encoded:
        return
    try:
        load_plan(json.loads(encoded))
    except Exception as error:  # noqa: BLE001 - the workers load it themselves then
        warnings.warn(f"sweep workers could not preload their models ({error!r}); each loads "
                      "them at its first point")


_load_from_environment()
